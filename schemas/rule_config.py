"""A rule's thresholds as records: what officers may change at run time, and the bounds
they are checked against. Defined here, below the rules that use them and the API and CLI
that show and edit them.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field

from schemas.alerts import AlertType

WEEK_MINUTES = 7 * 24 * 60

SuppressMinutes = Annotated[float, Field(ge=0, le=WEEK_MINUTES)]
"""Quiet time after a resolve: up to a week. Rules that redeclare the default must keep
this type, or the bound is lost."""


class RuleConfig(BaseModel):
    """A rule's thresholds; every field can be overridden per community at run time.

    Every numeric field declares inclusive bounds (`Field(ge=..., le=...)`) and every tuple a
    `max_length`: values come from officers at run time, and one beyond what the rule can
    use (a suppression of 1e300 minutes overflows every finding) must be refused on entry.
    NaN and infinities are refused for the same reason. `rules show` lists the bounds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    enabled: bool = True
    suppress_minutes: SuppressMinutes = 30.0
    """After an alert resolves, the same subject stays quiet this long."""


DEVICE_OFFLINE_MINUTES = 5.0
"""A device silent this long is offline: the device_offline rule's default, and what the
API's device health counts by."""


class RuleSpec(Protocol):
    """What the settings need of a rule: its name, the alerts it raises and its thresholds."""

    name: ClassVar[str]
    alert_types: ClassVar[tuple[AlertType, ...]]
    Config: ClassVar[type[RuleConfig]]
