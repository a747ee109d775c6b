"""Page layout: language, navigation menu from permissions, flash messages, rendering, error pages."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from cloud import i18n
from cloud.auth import SETTINGS_KEY, Principal, current

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
TEMPLATES_DIR = DASHBOARDS / "templates"
STATIC_DIR = DASHBOARDS / "static"
LANG_COOKIE = "wayside_lang"
FLASH_COOKIE = "wayside_flash"
PAGE_SIZES = (10, 20, 50, 100)


# --- layout: language, menu, flash, rendering -------------------------------------------------


@dataclass(frozen=True)
class MenuItem:
    group: str  # translation key of the menu section
    label: str  # translation key
    path: str
    permission: str | None
    order: int = 100


MENU_KEY = web.AppKey("wayside.menu", list[MenuItem])
MENU_GROUPS = (
    "menu.group.home",
    "menu.group.campus",
    "menu.group.charging",
    "menu.group.parking",
    "menu.group.access",
    "menu.group.sites",
    "menu.group.org",
)


def add_menu(app: web.Application, item: MenuItem) -> None:
    app[MENU_KEY].append(item)


def build_menu(
    items: Sequence[MenuItem], principal: Principal | None, path: str
) -> list[dict[str, Any]]:
    """Menu sections holding only what the principal may open, in a fixed section order."""
    if principal is None:
        return []
    here, _, here_query = path.partition("?")

    def matches(item: MenuItem) -> bool:
        base, _, query = item.path.partition("?")
        found = here == base if base == "/" else here == base or here.startswith(base + "/")
        # Entries of one list told apart by a query (white/black list).
        return found and (not query or query in here_query)

    visible = [
        item
        for item in sorted(items, key=lambda i: i.order)
        if item.permission is None or principal.can(item.permission)
    ]
    # The most specific entry is the active one: /charging/orders, not also /charging.
    longest = max((len(i.path.partition("?")[0]) for i in visible if matches(i)), default=-1)
    sections: dict[str, list[dict[str, Any]]] = {}
    for item in visible:
        active = matches(item) and len(item.path.partition("?")[0]) == longest
        sections.setdefault(item.group, []).append(
            {"label": item.label, "path": item.path, "active": active}
        )
    order = {g: n for n, g in enumerate(MENU_GROUPS)}
    return [
        {"label": group, "items": entries}
        for group, entries in sorted(sections.items(), key=lambda kv: order.get(kv[0], 99))
    ]


def language_of(request: web.Request) -> str:
    principal = current(request)
    if principal is not None and principal.language in i18n.LANGUAGES:
        return principal.language
    cookie = request.cookies.get(LANG_COOKIE, "")
    if cookie in i18n.LANGUAGES:
        return cookie
    return request.app[SETTINGS_KEY].default_language


def zone_of(request: web.Request) -> ZoneInfo:
    return ZoneInfo(request.app[SETTINGS_KEY].timezone)


def translator(lang: str) -> Callable[..., str]:
    return functools.partial(i18n.t, lang=lang)


def safe_next(target: str | None, fallback: str = "/") -> str:
    """A redirect target that stays on this site (no scheme, no //host)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


def layout_context(request: web.Request) -> dict[str, Any]:
    """What every page's layout needs: principal, menu, translation, CSRF token, language.

    Applied by `render` rather than as an aiohttp_jinja2 context processor: that middleware
    stores its data under a plain string request key, which aiohttp now warns about.
    """
    principal = current(request)
    lang = language_of(request)
    menu = request.app.get(MENU_KEY, [])
    return {
        "principal": principal,
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "t": translator(lang),
        "csrf_token": principal.csrf_token if principal else "",
        "menu": build_menu(menu, principal, request.path_qs),
        "here": request.path_qs,
        "flashes": [],
        "crumbs": [],
    }


_FLASH_VALUE = re.compile(r"^(success|error):[a-z0-9_.]+$")


def flash(response: web.StreamResponse, key: str, level: str = "success") -> None:
    """Show a message (a translation key) on the next page rendered; a cookie, so workers share it."""
    response.set_cookie(FLASH_COOKIE, f"{level}:{key}", httponly=True, samesite="Lax", path="/")


def redirect(location: str, message: str | None = None, level: str = "success") -> web.HTTPFound:
    response = web.HTTPFound(location)
    if message:
        flash(response, message, level)
    return response


def render(
    request: web.Request, template: str, context: Mapping[str, Any], status: int = 200
) -> web.Response:
    """Render a page, showing (and clearing) any flash message left by the previous request."""
    raw = request.cookies.get(FLASH_COOKIE, "")
    flashes = []
    if _FLASH_VALUE.match(raw):
        level, key = raw.split(":", 1)
        flashes.append({"level": level, "key": key})
    response = aiohttp_jinja2.render_template(
        template, request, {**layout_context(request), **context, "flashes": flashes}, status=status
    )
    if raw:
        response.del_cookie(FLASH_COOKIE, path="/")
    return response


def render_error(request: web.Request, status: int, message: str) -> web.Response:
    return render(request, "error.html", {"status": status, "message": message}, status=status)


MACHINE_PREFIXES = ("/api/", "/sync/", "/static/", "/healthz")


@web.middleware
async def page_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A person who follows a dead link or lacks a permission gets the layout, not bare text."""
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPForbidden) as exc:
        if request.path.startswith(MACHINE_PREFIXES):
            raise
        key = "error.not_found" if exc.status == 404 else "error.forbidden"
        return render_error(request, exc.status, key)
