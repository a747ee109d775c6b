"""The permission codes a role can grant, and the menu they unlock."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    code: str
    label: str  # translation key


PERMISSIONS: tuple[Permission, ...] = (
    Permission("dashboard.view", "perm.dashboard.view"),
    Permission("users.view", "perm.users.view"),
    Permission("users.edit", "perm.users.edit"),
    Permission("roles.edit", "perm.roles.edit"),
    Permission("sites.view", "perm.sites.view"),
    Permission("sites.edit", "perm.sites.edit"),
    Permission("lists.view", "perm.lists.view"),
    Permission("lists.edit", "perm.lists.edit"),
    Permission("access.view", "perm.access.view"),
    Permission("audit.view", "perm.audit.view"),
    Permission("campus.view", "perm.campus.view"),
    Permission("campus.edit", "perm.campus.edit"),
    Permission("vehicles.review", "perm.vehicles.review"),
    Permission("visits.view", "perm.visits.view"),
    Permission("messages.view", "perm.messages.view"),
    Permission("charging.view", "perm.charging.view"),
    Permission("charging.edit", "perm.charging.edit"),
    Permission("charging.orders", "perm.charging.orders"),
    Permission("parking.view", "perm.parking.view"),
    Permission("parking.edit", "perm.parking.edit"),
    Permission("parking.orders", "perm.parking.orders"),
)
CODES = frozenset(p.code for p in PERMISSIONS)
