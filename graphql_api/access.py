"""Who may see and do what: roles, their permissions, and the caller of one request.

The role table is the README's, in code. A caller's communities and visible alert types
become SQL conditions in every resolver (see `scope`), so rows outside them are never
fetched at all, rather than fetched and filtered.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from graphql_api.errors import InvalidArgument, PublicError
from schemas.alerts import AlertType


class Role(StrEnum):
    DISTRICT_ADMIN = "district_admin"
    DISTRICT_OFFICER = "district_officer"
    COMMUNITY_OFFICER = "community_officer"
    PROPERTY_MANAGER = "property_manager"
    ANALYST = "analyst"

    @property
    def district_wide(self) -> bool:
        """District roles see every community; the token's `communities` claim is ignored."""
        return self in DISTRICT_ROLES


DISTRICT_ROLES = frozenset({Role.DISTRICT_ADMIN, Role.DISTRICT_OFFICER, Role.ANALYST})


class Permission(StrEnum):
    READ_AGGREGATES = "read:aggregates"
    READ_ALERTS = "read:alerts"
    HANDLE_ALERTS = "handle:alerts"
    READ_DEVICES = "read:devices"
    READ_PARKING = "read:parking"
    READ_PLATES = "read:plates"
    """Vehicle passages and a plate's history: movements of identifiable people."""
    READ_BIOMETRICS = "read:biometrics"
    """Face captures, face search, trajectories and bracelet positions; always with a purpose."""
    READ_RULE_SETTINGS = "read:rule-settings"
    EDIT_RULE_SETTINGS = "edit:rule-settings"
    SWITCH_OFF_SAFETY_RULES = "switch-off:safety-rules"
    EDIT_WATCHLISTS = "edit:watchlists"
    EDIT_REGISTRY = "edit:registry"
    ERASE_PERSONAL_DATA = "erase:personal-data"
    READ_AUDIT = "read:audit"
    QUERY_SQL = "query:sql"
    """Read-only SQL on the warehouse (the SQL endpoint); biometric data stays with the
    roles that hold read:biometrics."""


_POLICE = frozenset(
    {
        Permission.READ_AGGREGATES,
        Permission.READ_ALERTS,
        Permission.HANDLE_ALERTS,
        Permission.READ_DEVICES,
        Permission.READ_PARKING,
        Permission.READ_PLATES,
        Permission.READ_BIOMETRICS,
        Permission.READ_RULE_SETTINGS,
    }
)
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DISTRICT_ADMIN: frozenset(Permission),
    Role.DISTRICT_OFFICER: _POLICE | {Permission.EDIT_WATCHLISTS},
    Role.COMMUNITY_OFFICER: _POLICE,
    Role.PROPERTY_MANAGER: frozenset(
        {
            Permission.READ_AGGREGATES,
            Permission.READ_ALERTS,
            Permission.HANDLE_ALERTS,
            Permission.READ_DEVICES,
            Permission.READ_PARKING,
        }
    ),
    Role.ANALYST: frozenset({Permission.READ_AGGREGATES, Permission.QUERY_SQL}),
}

FACILITY_ALERT_TYPES = frozenset(
    {
        AlertType.DEVICE_OFFLINE,
        AlertType.CHARGING_OVERHEAT,
        AlertType.BLOCKED_FIRE_PASSAGE,
        AlertType.EBIKE_IN_ELEVATOR,
        AlertType.HIGH_ALTITUDE_THROW,
        AlertType.STRAY_DOG,
    }
)
"""Device and hazard alerts: what a property manager sees and handles. Every other type
names a person, a face, a plate or a bracelet's position, which stays with the police."""


class Forbidden(PublicError):
    """The caller's role lacks a permission; the message names it, never any data."""


class Unauthenticated(Exception):
    """No usable token: answered with HTTP 401 (or a rejected websocket), never a body."""


@dataclass(frozen=True)
class Caller:
    """The person behind one request, from their verified token."""

    sub: str
    role: Role
    communities: frozenset[str] | None
    """None for district roles: every community."""

    @property
    def permissions(self) -> frozenset[Permission]:
        return ROLE_PERMISSIONS[self.role]

    @property
    def alert_types(self) -> frozenset[AlertType] | None:
        """The alert types this caller may see and handle; None means all."""
        return FACILITY_ALERT_TYPES if self.role is Role.PROPERTY_MANAGER else None

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission, what: str) -> None:
        if not self.may(permission):
            raise Forbidden(
                f"{what} needs the permission {permission.value!r}, "
                f"which the role {self.role.value!r} does not have"
            )

    def sees(self, community_id: str) -> bool:
        return self.communities is None or community_id in self.communities

    def scope(
        self, requested: Iterable[str] | None, known: Collection[str]
    ) -> frozenset[str] | None:
        """The communities a query may touch: what was asked for, within the caller's own.

        None means every community (district roles asking for all). A community outside
        the caller's is reported exactly like one that does not exist.
        """
        visible = set(known) if self.communities is None else set(known) & self.communities
        if requested is None:
            return None if self.communities is None else frozenset(visible)
        chosen = frozenset(requested)
        if not chosen:
            raise InvalidArgument("communityIds is empty: omit it to include every community")
        unknown = sorted(chosen - visible)
        if unknown:
            raise InvalidArgument(f"unknown community id(s): {', '.join(unknown)}")
        return chosen

    def visible_types(self, requested: Iterable[AlertType] | None) -> frozenset[AlertType] | None:
        """Alert types a query may touch: a property manager's are always narrowed in SQL."""
        chosen = None if requested is None else frozenset(requested)
        allowed = self.alert_types
        if allowed is None:
            return chosen
        return allowed if chosen is None else chosen & allowed
