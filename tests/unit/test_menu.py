"""The navigation marks the one entry the page belongs to."""

from __future__ import annotations

from cloud.auth import Principal
from cloud.ui.layout import MenuItem, build_menu

ITEMS = [
    MenuItem("menu.group.home", "menu.home", "/", None, 0),
    MenuItem("menu.group.charging", "home", "/charging", None, 1),
    MenuItem("menu.group.charging", "orders", "/charging/orders", None, 2),
    MenuItem("menu.group.access", "whitelist", "/lists?kind=whitelist", None, 3),
    MenuItem("menu.group.access", "blacklist", "/lists?kind=blacklist", None, 4),
    MenuItem("menu.group.access", "secret", "/secret", "secret.view", 5),
]
ADMIN = Principal(1, 1, "a", "A", True, frozenset(), "x", "zh")
CLERK = Principal(2, 1, "c", "C", False, frozenset(), "x", "zh")


def _active(path: str, principal: Principal = ADMIN) -> list[str]:
    return [
        entry["label"]
        for section in build_menu(ITEMS, principal, path)
        for entry in section["items"]
        if entry["active"]
    ]


def test_the_most_specific_entry_is_active_alone() -> None:
    assert _active("/charging/orders") == ["orders"]
    assert _active("/charging/orders/12") == ["orders"]
    assert _active("/charging") == ["home"]
    assert _active("/charging/stations") == ["home"]  # no entry of its own: its section's home
    assert _active("/") == ["menu.home"]
    assert _active("/chargingx") == []


def test_list_entries_told_apart_by_query() -> None:
    assert _active("/lists?kind=blacklist&page=2") == ["blacklist"]


def test_entries_the_user_may_not_open_are_hidden() -> None:
    labels = [e["label"] for s in build_menu(ITEMS, CLERK, "/") for e in s["items"]]
    assert "secret" not in labels and "orders" in labels
