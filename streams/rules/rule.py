"""What a rule is: pure functions of its state, one event and its thresholds.

Rules never see Kafka, Faust or the wall clock. The engine (`streams/engine.py`) keeps
each rule's state in a RocksDB-backed Faust table, feeds events in event-time order per
key, calls `advance` when the stream's event-time watermark passes `wake_at` (absence
rules), and turns findings into alerts through the alert book (dedup, update, resolve).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from types import UnionType
from typing import Annotated, ClassVar, Generic, Protocol, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

from schemas.alerts import AlertType, Evidence, Severity, SubjectKind, WatchlistFace, WatchlistPlate
from schemas.events import Event
from schemas.reference import (
    DISTRICT_TZ,
    BraceletWearer,
    Community,
    Device,
    Resident,
    ResidentVehicle,
)
from schemas.rule_config import RuleConfig

Fraction = Annotated[float, Field(ge=0, le=1)]
"""A share or a confidence."""


class RuleState(BaseModel):
    """Per-key state, persisted as JSON in the rule's table after every change.

    The engine keeps `applied` (source topic → last offset applied) so that a replay after
    a crash never applies an event twice, `partition` (where the key lives) and
    `community_id` (whose thresholds apply when time passes without events).
    """

    model_config = ConfigDict(extra="ignore", validate_assignment=False)

    applied: dict[str, int] = {}
    partition: int = -1
    community_id: str = ""


@dataclass(frozen=True)
class Explanation:
    en: str
    zh: str


@dataclass(frozen=True)
class Finding:
    """The rule's condition holds for a subject: raise an alert, or update the open one."""

    alert_type: AlertType
    severity: Severity
    community_id: str
    subject_kind: SubjectKind
    subject: str
    occurred_at: datetime
    explanation: Explanation
    evidence: Sequence[Evidence]


@dataclass(frozen=True)
class Attachment:
    """More evidence for an open alert (e.g. camera captures after a fence alarm); no count."""

    alert_type: AlertType
    community_id: str
    subject: str
    occurred_at: datetime
    evidence: Sequence[Evidence]


@dataclass(frozen=True)
class Clearance:
    """The condition no longer holds (device back online): resolve the open alert."""

    alert_type: AlertType
    community_id: str
    subject: str
    occurred_at: datetime
    explanation: Explanation


E = TypeVar("E", bound=Event)
S = TypeVar("S", bound=RuleState)
C = TypeVar("C", bound=RuleConfig)


@dataclass
class Outcome(Generic[S]):
    """The new state (None deletes the key) and what the book should do."""

    state: S | None
    findings: list[Finding] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    clearances: list[Clearance] = field(default_factory=list)


class Keying(StrEnum):
    """Which stream a rule runs on: community-keyed event topics, or passages by plate."""

    COMMUNITY = "community"
    PLATE = "plate"


class Reference(Protocol):
    """Reference data every worker holds whole (from compacted topics)."""

    @property
    def version(self) -> int:
        """Grows whenever any reference record changes; rules may cache indexes by it."""

    def community(self, community_id: str) -> Community | None: ...
    def resident(self, person_id: str) -> Resident | None: ...
    def residents_of_unit(self, unit_door_id: str) -> Sequence[Resident]: ...
    def resident_vehicle(self, plate: str) -> ResidentVehicle | None: ...
    def device(self, device_id: str) -> Device | None: ...
    def devices_at(self, place: str) -> Sequence[Device]: ...
    def bracelet(self, bracelet_id: str) -> BraceletWearer | None: ...
    def watchlist_plate(self, plate: str) -> WatchlistPlate | None: ...
    def watchlist_plates(self) -> Mapping[str, WatchlistPlate]: ...
    def watchlist_faces(self) -> Sequence[WatchlistFace]: ...


class Rule(ABC, Generic[E, S, C]):
    """One rule module = one subclass, typed by the events it takes: `Rule[FaceCapture, ...]`
    or `Rule[DoorAccess | FaceCapture, ...]`. The engine hands it only those, so a rule
    never checks what it was given. Stateless rules leave `State` as None."""

    name: ClassVar[str]
    """Snake-case; names the rule's table and its section in rule settings."""
    alert_types: ClassVar[tuple[AlertType, ...]]
    inputs: ClassVar[tuple[type[Event], ...]]
    """Read from the first type argument, for the engine's dispatch."""
    keying: ClassVar[Keying] = Keying.COMMUNITY
    Config: ClassVar[type[RuleConfig]] = RuleConfig
    State: ClassVar[type[RuleState] | None] = None
    gap_proves_absence: ClassVar[bool] = False
    """Absence rules with several inputs: may an event on one input settle a wake-up that
    the watermark (held back by a lagging input) has not reached? Single-input rules may."""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        taken = _taken_events(cls)
        if taken:
            cls.inputs = taken

    @abstractmethod
    def key(self, event: E, reference: Reference) -> str | None:
        """The state key this event belongs to; None when the event does not concern the rule."""

    @abstractmethod
    def apply(self, state: S | None, event: E, config: C, reference: Reference) -> Outcome[S]:
        """Fold one event into the key's state (None = no state yet)."""

    def wake_at(self, state: S, config: C) -> datetime | None:
        """Absence rules: the event time at which `advance` must look at this key again."""
        return None

    def advance(
        self, state: S, key: str, watermark: datetime, config: C, reference: Reference
    ) -> Outcome[S]:
        """Called once the watermark passed `wake_at`; no event arrived to trigger it.

        The returned state's `wake_at` must be None or later than `watermark`.
        """
        return Outcome(state)

    def heard_nothing(self, state: S, dark: timedelta, config: C) -> S | None:
        """Absence rules: the stream carried no event at all for `dark` (the platform, not
        this subject, went quiet). Return the state with that time not counted as the
        subject's silence, or None when it changes nothing. Rules that implement it also
        implement `last_heard`."""
        return None

    def last_heard(self, state: S) -> datetime | None:
        """The event time of the latest input this state folded in: after a restart the
        stream's clock resumes from the latest of them."""
        return None

    def shrink(self, state: S) -> S | None:
        """A smaller state, for one whose JSON is over the size cap (a changelog record over
        Kafka's message size would crash-loop the worker): its oldest records dropped, and
        counted so explanations can say so. None when nothing more can go."""
        return None


def _taken_events(cls: type) -> tuple[type[Event], ...]:
    """The event types of `Rule[E, ...]` among the class's direct bases (a union gives
    several); empty when the class inherits them from a typed parent."""
    for base in getattr(cls, "__orig_bases__", ()):
        if get_origin(base) is Rule:
            taken = get_args(base)[0]
            kinds = get_args(taken) if isinstance(taken, UnionType) else (taken,)
            return tuple(k for k in kinds if isinstance(k, type) and issubclass(k, Event))
    return ()


def local_time(at: datetime) -> datetime:
    """The district's wall clock at an event time: nights and daytime are local."""
    return at.astimezone(DISTRICT_TZ)


def evidence_of(event: Event, summary: str) -> Evidence:
    return Evidence(
        event_id=event.event_id,
        event_kind=event.kind,
        occurred_at=event.occurred_at,
        summary=summary,
    )


def hhmm(at: datetime) -> str:
    """Local time as an officer reads it, e.g. 14:02."""
    return local_time(at).strftime("%H:%M")


def dropped_note(dropped: int, records_en: str, records_zh: str) -> Explanation:
    """To append to an explanation when a cap dropped records the finding could have used:
    the officer must know the picture is partial. Empty when nothing was dropped."""
    if dropped <= 0:
        return Explanation(en="", zh="")
    return Explanation(
        en=f" ({dropped:,} oldest {records_en} dropped)",
        zh=f"（已丢弃 {dropped:,} 条最早的{records_zh}）",
    )


def sample(items: Iterable[str], limit: int) -> list[str]:
    """The first `limit` items in order: evidence stays small enough to read."""
    out: list[str] = []
    for item in items:
        if len(out) >= limit:
            break
        out.append(item)
    return out
