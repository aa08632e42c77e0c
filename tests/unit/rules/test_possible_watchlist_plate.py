from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from schemas.alerts import AlertType, Severity, WatchlistCategory, WatchlistPlate
from streams.rules.possible_watchlist_plate import PossibleWatchlistPlateRule
from tests.unit.rules.harness import T0, RuleHarness, StaticReference, passage

WANTED = WatchlistPlate(
    plate="浙A12345", category=WatchlistCategory.WANTED, added_at=T0, note="robbery suspect"
)
STOLEN = WatchlistPlate(plate="浙B67890", category=WatchlistCategory.STOLEN, added_at=T0)
ATTENTION = WatchlistPlate(plate="浙C24680", category=WatchlistCategory.ATTENTION, added_at=T0)


def harness(**overrides: Any) -> RuleHarness:
    reference = StaticReference(plates=[WANTED, STOLEN, ATTENTION])
    return RuleHarness(PossibleWatchlistPlateRule(), reference, **overrides)


def test_confused_read_of_wanted_plate_raises_high_alert_naming_both_plates() -> None:
    seen = passage("浙A1Z3S5", T0, gate_id="c01-g2")
    run = harness().feed([seen])
    (alert,) = run.alerts
    assert alert.alert_type is AlertType.POSSIBLE_WATCHLIST_PLATE
    assert alert.severity is Severity.HIGH
    assert alert.subject == "浙A1Z3S5"
    assert alert.evidence[0].event_id == seen.event_id
    for text in ("浙A1Z3S5", "浙A12345", "2 read as Z", "4 read as S", "c01-g2", "10:00"):
        assert text in alert.explanation
    for text in ("浙A1Z3S5", "浙A12345", "易混淆字符", "2 识别为 Z", "c01-g2", "10:00"):
        assert text in alert.explanation_zh


def test_exact_hit_is_left_to_watchlist_plate_and_strangers_are_ignored() -> None:
    h = harness()
    rule = h.rule
    for plate in ("浙A12345", "浙A12367", "浙A21354", "京N99999"):
        assert rule.key(passage(plate, T0), h.reference) is None
    assert h.feed([passage("浙A12345", T0), passage("浙A12367", T0)]).alerts == []


def test_one_substitution_fires_two_do_not() -> None:
    run = harness().feed([passage("浙B67891", T0), passage("浙B67811", T0)])
    (alert,) = run.alerts
    assert alert.subject == "浙B67891"
    assert alert.severity is Severity.MEDIUM
    assert "one character differs (0 read as 1)" in alert.explanation
    assert "一位字符不同（0 识别为 1）" in alert.explanation_zh


def test_one_missing_or_extra_character_fires() -> None:
    run = harness().feed([passage("浙C2468", T0), passage("浙C246800", T0)])
    assert {a.subject: a.severity for a in run.alerts} == {
        "浙C2468": Severity.LOW,
        "浙C246800": Severity.LOW,
    }
    missing, extra = run.alerts
    assert "one character missing (0)" in missing.explanation
    assert "one extra character (0)" in extra.explanation


def test_without_differences_only_confusions_match() -> None:
    run = harness(max_differences=0).feed([passage("浙A12346", T0), passage("浙AI2345", T0)])
    assert [a.subject for a in run.alerts] == ["浙AI2345"]


def test_without_confusions_each_confused_character_is_a_difference() -> None:
    run = harness(confusions=False).feed([passage("浙AIZ345", T0), passage("浙AI2345", T0)])
    assert [a.subject for a in run.alerts] == ["浙AI2345"]
    assert "one character differs (1 read as I)" in run.alerts[0].explanation


def test_min_confidence_ignores_reads_below_it_and_keeps_reads_at_it() -> None:
    run = harness(min_confidence=0.8).feed(
        [
            passage("浙A1234S", T0, confidence=0.79),
            passage("浙A1234S", T0 + timedelta(minutes=1), confidence=0.8),
        ]
    )
    (alert,) = run.alerts
    assert alert.first_seen == T0 + timedelta(minutes=1)


def test_repeat_reads_after_restart_update_the_one_alert() -> None:
    h = harness()
    h.feed([passage("浙A1Z345", T0)])
    h.restart()
    run = h.feed([passage("浙A1Z345", T0 + timedelta(hours=1), gate_id="c01-g3")])
    (alert,) = run.open_alerts().values()
    assert alert.count == 2
    assert "c01-g3" in alert.explanation


@dataclass
class CountingReference(StaticReference):
    indexed: int = 0

    def watchlist_plates(self) -> Mapping[str, WatchlistPlate]:
        self.indexed += 1
        return super().watchlist_plates()


def test_watchlist_is_indexed_once_per_reference_version() -> None:
    reference = CountingReference(plates=[WANTED])
    rule = PossibleWatchlistPlateRule()
    for n in range(50):
        rule.key(passage(f"浙D{n:05d}", T0), reference)
    assert reference.indexed == 1
    reference.plates.append(STOLEN)
    reference.version += 1
    assert rule.key(passage("浙B6789O", T0), reference) == "浙B6789O"
    assert reference.indexed == 2
