"""Strawberry permission classes, one per Permission, so each field states what it needs.

A denial raises `Forbidden` naming the permission and the caller's role; nothing about
the data is said, and the resolver never runs.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from graphql_api.access import Permission


@cache
def needs(permission: Permission) -> type[BasePermission]:
    class Needs(BasePermission):
        message = f"needs the permission {permission.value!r}"

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            info.context.caller.require(permission, info.field_name)
            return True

    Needs.__name__ = f"Needs_{permission.name}"
    return Needs
