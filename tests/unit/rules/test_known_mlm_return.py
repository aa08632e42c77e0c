from datetime import timedelta

import numpy as np
import pytest

from schemas.alerts import AlertType, Severity, SubjectKind, WatchlistFace
from streams.rules.known_mlm_return import KnownMlmReturnRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, face
from tests.unit.rules.test_visitor_gallery import Faces

FACES = Faces()


def listed(name: str, case: str = "2025-杭-017") -> WatchlistFace:
    return WatchlistFace(
        face_id=f"mlm-{name}",
        embedding=FACES.person(name).tolist(),
        case=case,
        note="lecturer",
        added_at=T0,
    )


def at_similarity(name: str, score: float) -> list[float]:
    """A unit vector whose cosine with `name`'s enrolled face is exactly `score`."""
    person = FACES.person(name)
    other = FACES.person(f"{name}-unrelated")
    orthogonal = other - np.dot(other, person) * person
    orthogonal /= np.linalg.norm(orthogonal)
    return (score * person + np.sqrt(1 - score**2) * orthogonal).tolist()


def harness(**overrides: float) -> RuleHarness:
    reference = StaticReference(faces=[listed("chen"), listed("liu"), listed("zhou")])
    return RuleHarness(KnownMlmReturnRule(), reference, **overrides)


def test_watchlisted_face_at_any_camera_raises_a_high_alert_naming_the_case() -> None:
    h = harness()
    capture = face("c01-pg1-cam", T0, FACES.capture("liu"))
    h.feed([capture])
    (alert,) = h.run.alerts
    assert alert.alert_type is AlertType.KNOWN_MLM_RETURN
    assert alert.severity is Severity.HIGH
    assert (alert.subject_kind, alert.subject) == (SubjectKind.PERSON, "mlm-liu")
    assert "case 2025-杭-017 (lecturer)" in alert.explanation
    assert "camera c01-pg1-cam at c01-pg1 on 11-20 10:00 (similarity 0.9" in alert.explanation
    assert "传销案件 2025-杭-017" in alert.explanation_zh
    assert alert.evidence[0].event_id == capture.event_id


def test_strangers_and_residents_not_on_the_watchlist_are_ignored() -> None:
    h = harness()
    stranger = face("c01-b01-u1-cam", T0, FACES.capture("passer-by"))
    resident = face("c01-pg1-cam", T0, FACES.capture("neighbour"), matched_person_id="p-1")
    assert h.rule.key(stranger, h.reference) is None
    h.feed([stranger, resident])
    assert h.run.findings == []


@pytest.mark.parametrize(("score", "fires"), [(0.4005, True), (0.3995, False)])
def test_match_threshold_is_the_recognisers(score: float, fires: bool) -> None:
    h = harness()
    h.feed([face("c01-pg1-cam", T0, at_similarity("zhou", score))])
    assert bool(h.run.findings) is fires


def test_a_community_may_raise_the_threshold() -> None:
    h = harness(similarity_threshold=0.5)
    h.feed([face("c01-pg1-cam", T0, at_similarity("zhou", 0.45))])
    assert h.run.findings == []


def test_sightings_across_a_restart_update_one_alert() -> None:
    h = harness()
    h.feed([face("c01-pg1-cam", T0, FACES.capture("chen"))])
    h.restart()
    h.rule = KnownMlmReturnRule()
    h.feed([face("c01-b02-u3-cam", T0 + timedelta(minutes=5), FACES.capture("chen"))])
    (alert,) = h.run.open_alerts().values()
    assert alert.count == 2 and len(alert.evidence) == 2


def test_watchlist_changes_take_effect_with_the_reference_version() -> None:
    h = harness()
    h.feed([face("c01-pg1-cam", T0, FACES.capture("sun"))])
    assert h.run.findings == []
    h.reference.faces = [*h.reference.faces, listed("sun", case="2026-杭-003")]
    h.reference.version += 1
    h.feed([face("c01-pg1-cam", T0 + timedelta(hours=1), FACES.capture("sun"))])
    (finding,) = h.run.findings
    assert finding.subject == "mlm-sun"


def test_embeddings_of_another_model_size_never_match() -> None:
    h = harness()
    h.feed([face("c01-pg1-cam", T0, Faces(dims=512).capture("chen"))])
    assert h.run.findings == []
