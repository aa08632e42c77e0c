"""POSSIBLE_WATCHLIST_PLATE: a plate read that is almost a watchlist plate.

Gate cameras misread plates: 0/D/Q/O, 8/B, 1/I, 2/Z and 5/S look alike at night, in rain
or on dirty plates, and a character can be lost or added. A read that is not on the
watchlist but turns into a watchlist plate through any number of such confusions, or
through at most `max_differences` other edits (a substituted, missing or extra
character), may be the listed vehicle: the officer checks the snapshot. Exact hits are
WATCHLIST_PLATE's. Severity is one step below the listed category's.

`max_differences` stops at 1: on a 7-character plate two free edits would tie every
listed plate to thousands of innocent ones. The watchlist is indexed once per reference
version by its confusion-collapsed form and that form minus each character (a symmetric
deletion index), so a passage costs a few dictionary look-ups, not a watchlist scan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from schemas.alerts import (
    WATCHLIST_SEVERITY,
    AlertType,
    Severity,
    SubjectKind,
    WatchlistPlate,
)
from schemas.events import Direction, VehiclePassage
from streams.rules.rule import (
    Explanation,
    Finding,
    Fraction,
    Outcome,
    Reference,
    Rule,
    RuleConfig,
    RuleState,
    evidence_of,
    hhmm,
)
from streams.rules.watchlist_plate import CATEGORY_ZH

CONFUSABLE = ("0DQO", "8B", "1I", "2Z", "5S")
"""Characters ANPR cameras mistake for one another; each group collapses to its first."""
COLLAPSE = str.maketrans({ch: group[0] for group in CONFUSABLE for ch in group[1:]})
MOST_DIFFERENCES = 1
ONE_STEP_DOWN = {
    Severity.CRITICAL: Severity.HIGH,
    Severity.HIGH: Severity.MEDIUM,
    Severity.MEDIUM: Severity.LOW,
    Severity.LOW: Severity.LOW,
}


class PossibleWatchlistPlateConfig(RuleConfig):
    max_differences: Annotated[int, Field(ge=0, le=MOST_DIFFERENCES)] = 1
    """Edits beyond OCR confusions: 0 = confusions only, 1 = also one character
    substituted, missing or extra."""
    confusions: bool = True
    """Whether OCR-confusable characters count as the same character."""
    min_confidence: Fraction = 0.0
    """Reads the camera is less sure of than this are ignored."""


@dataclass(frozen=True)
class Difference:
    """One place where the read plate departs from the listed one (characters as written)."""

    kind: Literal["confusion", "substituted", "missing", "extra"]
    listed: str
    read: str


@dataclass(frozen=True)
class Resemblance:
    entry: WatchlistPlate
    differences: tuple[Difference, ...]

    @property
    def edits(self) -> int:
        return sum(d.kind != "confusion" for d in self.differences)


class WatchlistIndex:
    """Listed plates by collapsed form and by collapsed form minus one character."""

    def __init__(self, plates: Mapping[str, WatchlistPlate]) -> None:
        self.listed = {entry.plate: entry for entry in plates.values()}
        near: dict[str, set[str]] = defaultdict(set)
        for plate in self.listed:
            for variant in variants(collapse(plate), MOST_DIFFERENCES):
                near[variant].add(plate)
        self.near = {variant: tuple(sorted(plates)) for variant, plates in near.items()}

    def closest(self, read: str, confusions: bool, max_differences: int) -> Resemblance | None:
        """The listed plate the read most plausibly is; None for exact hits and strangers."""
        if read in self.listed:
            return None
        candidates = {
            plate
            for variant in variants(collapse(read), max_differences)
            for plate in self.near.get(variant, ())
        }
        best: tuple[tuple[int, int, int, str], Resemblance] | None = None
        for plate in candidates:
            if abs(len(plate) - len(read)) > max_differences:
                continue
            differences = align(plate, read, confusions)
            resemblance = Resemblance(self.listed[plate], differences)
            if resemblance.edits > max_differences:
                continue
            rank = (
                resemblance.edits,
                -WATCHLIST_SEVERITY[resemblance.entry.category].rank,
                len(differences),
                plate,
            )
            if best is None or rank < best[0]:
                best = (rank, resemblance)
        return None if best is None else best[1]


def collapse(plate: str) -> str:
    return plate.translate(COLLAPSE)


def variants(form: str, deletions: int) -> set[str]:
    """The form itself and, with one deletion allowed, the form minus each character."""
    out = {form}
    if deletions:
        out.update(form[:i] + form[i + 1 :] for i in range(len(form)))
    return out


def align(listed: str, read: str, confusions: bool) -> tuple[Difference, ...]:
    """The cheapest edit script turning `listed` into `read` (Levenshtein with confusions
    free when enabled), as the differences an officer checks on the snapshot."""
    rows, cols = len(listed) + 1, len(read) + 1
    cost = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(cols):
        cost[0][j] = j

    def swap(i: int, j: int) -> int:
        a, b = listed[i - 1], read[j - 1]
        if a == b or (confusions and collapse(a) == collapse(b)):
            return 0
        return 1

    for i in range(1, rows):
        for j in range(1, cols):
            cost[i][j] = min(
                cost[i - 1][j - 1] + swap(i, j), cost[i - 1][j] + 1, cost[i][j - 1] + 1
            )
    differences: list[Difference] = []
    i, j = rows - 1, cols - 1
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + swap(i, j):
            a, b = listed[i - 1], read[j - 1]
            if a != b:
                kind = "confusion" if swap(i, j) == 0 else "substituted"
                differences.append(Difference(kind, a, b))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            differences.append(Difference("missing", listed[i - 1], ""))
            i -= 1
        else:
            differences.append(Difference("extra", "", read[j - 1]))
            j -= 1
    return tuple(reversed(differences))


class PossibleWatchlistPlateRule(Rule[VehiclePassage, RuleState, PossibleWatchlistPlateConfig]):
    """Stateless: every near-miss read is a finding; the book folds repeats per read plate."""

    name = "possible_watchlist_plate"
    alert_types = (AlertType.POSSIBLE_WATCHLIST_PLATE,)
    Config = PossibleWatchlistPlateConfig

    def __init__(self) -> None:
        self._index: tuple[int, WatchlistIndex] | None = None

    def index(self, reference: Reference) -> WatchlistIndex:
        """Rebuilt only when the reference data changed."""
        if self._index is None or self._index[0] != reference.version:
            self._index = (reference.version, WatchlistIndex(reference.watchlist_plates()))
        return self._index[1]

    def key(self, event: VehiclePassage, reference: Reference) -> str | None:
        resemblance = self.index(reference).closest(
            event.plate, confusions=True, max_differences=MOST_DIFFERENCES
        )
        return None if resemblance is None else event.plate

    def apply(
        self,
        state: RuleState | None,
        event: VehiclePassage,
        config: PossibleWatchlistPlateConfig,
        reference: Reference,
    ) -> Outcome[RuleState]:
        if event.confidence < config.min_confidence:
            return Outcome(None)
        resemblance = self.index(reference).closest(
            event.plate, config.confusions, config.max_differences
        )
        if resemblance is None:
            return Outcome(None)
        return Outcome(None, findings=[possible_finding(event, resemblance)])


def possible_finding(passage: VehiclePassage, resemblance: Resemblance) -> Finding:
    entry = resemblance.entry
    how_en, how_zh = describe(resemblance.differences)
    note = f": {entry.note}" if entry.note else ""
    entering = passage.direction is Direction.IN
    direction_en, direction_zh = ("entering", "驶入") if entering else ("leaving", "驶出")
    at = hhmm(passage.occurred_at)
    return Finding(
        alert_type=AlertType.POSSIBLE_WATCHLIST_PLATE,
        severity=ONE_STEP_DOWN[WATCHLIST_SEVERITY[entry.category]],
        community_id=passage.community_id,
        subject_kind=SubjectKind.PLATE,
        subject=passage.plate,
        occurred_at=passage.occurred_at,
        explanation=Explanation(
            en=(
                f"Plate read as {passage.plate} at gate {passage.gate_id} of community "
                f"{passage.community_id} at {at} ({direction_en}, read confidence "
                f"{passage.confidence:.2f}) resembles {entry.plate} ({entry.category} on the "
                f"police watchlist{note}): {how_en}. Possibly the listed vehicle misread; "
                f"check the snapshot."
            ),
            zh=(
                f"车牌 {passage.plate} 于 {at} 从 {passage.gate_id} {direction_zh} "
                f"{passage.community_id} 小区（识别置信度 {passage.confidence:.2f}），"
                f"与布控车牌 {entry.plate}（{CATEGORY_ZH.get(entry.category, entry.category)}）"
                f"{how_zh}；疑为布控车辆误识别，请核对抓拍图片"
            ),
        ),
        evidence=[
            evidence_of(
                passage,
                f"{passage.plate} {passage.direction} at gate {passage.gate_id}, "
                f"resembles watchlist plate {entry.plate}",
            )
        ],
    )


def describe(differences: tuple[Difference, ...]) -> tuple[str, str]:
    """The differences in English and Chinese, e.g. "B read as 8" / "B 识别为 8"."""
    confused = [d for d in differences if d.kind == "confusion"]
    edits = [d for d in differences if d.kind != "confusion"]
    en: list[str] = []
    zh: list[str] = []
    if confused:
        pairs_en = ", ".join(f"{d.listed} read as {d.read}" for d in confused)
        pairs_zh = "、".join(f"{d.listed} 识别为 {d.read}" for d in confused)
        en.append(f"OCR-confusable characters ({pairs_en})")
        zh.append(f"易混淆字符（{pairs_zh}）")
    for edit in edits:
        if edit.kind == "substituted":
            en.append(f"one character differs ({edit.listed} read as {edit.read})")
            zh.append(f"一位字符不同（{edit.listed} 识别为 {edit.read}）")
        elif edit.kind == "missing":
            en.append(f"one character missing ({edit.listed})")
            zh.append(f"缺少一位字符（{edit.listed}）")
        else:
            en.append(f"one extra character ({edit.read})")
            zh.append(f"多出一位字符（{edit.read}）")
    return " and ".join(en), "相似：" + "，".join(zh)
