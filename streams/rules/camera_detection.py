"""Rules that turn one kind of camera-analytics detection into a finding.

Stateless: each detection at or above the rule's `min_confidence` is a finding about its
camera, and the alert book folds repeats from that camera into its open alert.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from schemas.events import CameraAnalytics, CameraAnalyticsKind
from streams.rules.rule import Finding, Fraction, Outcome, Reference, Rule, RuleConfig, RuleState


class CameraDetectionConfig(RuleConfig):
    min_confidence: Fraction = 0.6


class CameraDetectionRule(Rule[CameraAnalytics, RuleState, CameraDetectionConfig]):
    analytics_kind: ClassVar[CameraAnalyticsKind]
    Config: ClassVar[type[RuleConfig]] = CameraDetectionConfig

    def key(self, event: CameraAnalytics, reference: Reference) -> str | None:
        return event.camera_id if event.analytics_kind is self.analytics_kind else None

    def apply(
        self,
        state: RuleState | None,
        event: CameraAnalytics,
        config: CameraDetectionConfig,
        reference: Reference,
    ) -> Outcome[RuleState]:
        if event.confidence < config.min_confidence:
            return Outcome(None)
        return Outcome(None, findings=[self.finding(event)])

    @abstractmethod
    def finding(self, event: CameraAnalytics) -> Finding:
        """What the officer reads about this detection."""
