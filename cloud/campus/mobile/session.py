"""Phone sessions of the /m/{tenant}/ pages: who is signed in, their CSRF token, flash, rendering.

The admin middleware leaves /m/ alone (cloud.auth.CSRF_EXEMPT_PREFIXES): every mobile handler
is wrapped by :func:`mobile`, which resolves the school, loads the phone's session (a random
token in an HttpOnly, SameSite=Lax cookie scoped to /m/{tenant}; only its hash is stored) and
refuses any POST whose ``_csrf`` field does not match the session's token, or before sign-in
the token of the pre-sign-in cookie.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from cloud import i18n
from cloud.auth import SETTINGS_KEY
from cloud.campus import texts_mobile as _texts  # noqa: F401  (registers the texts)
from cloud.campus.models import MobileSession, Registrant, Visitor
from cloud.campus.visits import is_host
from cloud.org.models import Tenant
from cloud.ui.layout import language_of, translator

SESSION_COOKIE = "wayside_m"
PRE_CSRF_COOKIE = "wayside_m_csrf"
FLASH_COOKIE = "wayside_m_flash"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_LIFETIME = timedelta(days=30)  # a bound phone stays signed in (绑定后无需再次登录)
_FLASH = re.compile(r"^(success|error):[a-z0-9_.]+$")

Role = Literal["anyone", "registrant", "host", "visitor", "signed_in"]


@dataclass
class Mobile:
    """The phone asking: its school, who it is signed in as, and the CSRF token its forms carry."""

    tenant: Tenant
    settings_zone: ZoneInfo
    public_url: str
    csrf: str
    session: MobileSession | None = None
    registrant: Registrant | None = None
    visitor: Visitor | None = None
    new_csrf_cookie: bool = False
    cookies: dict[str, tuple[str, int]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"/m/{self.tenant.code}"

    @property
    def is_host(self) -> bool:
        return self.registrant is not None and is_host(self.registrant)


MobileHandler = Callable[[web.Request, Mobile], Awaitable[web.StreamResponse]]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


async def _load(request: web.Request, tenant: Tenant) -> MobileSession | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    # Another school's session is no session here (tenant_id in the lookup).
    row = await MobileSession.get_or_none(token_hash=token_hash(token), tenant_id=tenant.id)
    if row is None:
        return None
    if row.expires_at <= _now():
        await row.delete()
        return None
    return row


def _csrf_ok(supplied: str, expected: str) -> bool:
    return bool(expected) and secrets.compare_digest(supplied.encode(), expected.encode())


def mobile(role: Role = "anyone") -> Callable[[MobileHandler], Handler]:
    """Wrap a mobile page: school, session, CSRF on every POST, and who may open it."""

    def wrap(handler: MobileHandler) -> Handler:
        async def page(request: web.Request) -> web.StreamResponse:
            settings = request.app[SETTINGS_KEY]
            tenant = await Tenant.get_or_none(code=request.match_info["tenant"], enabled=True)
            if tenant is None:
                return web.Response(status=404, text="not found")
            session = await _load(request, tenant)
            pre = request.cookies.get(PRE_CSRF_COOKIE, "")
            m = Mobile(
                tenant=tenant,
                settings_zone=ZoneInfo(settings.timezone),
                public_url=settings.public_url,
                csrf=session.csrf_token if session else (pre or secrets.token_urlsafe(24)),
                session=session,
                new_csrf_cookie=session is None and not pre,
            )
            if session is not None and session.registrant_id is not None:
                m.registrant = await Registrant.get_or_none(
                    id=session.registrant_id, tenant_id=tenant.id, enabled=True
                )
                if m.registrant is None:  # disabled or deleted since: signed out
                    m.session = None
            elif session is not None and session.visitor_id is not None:
                m.visitor = await Visitor.get_or_none(id=session.visitor_id, tenant_id=tenant.id)
            if request.method == "POST":
                form = await request.post()
                supplied = request.headers.get(CSRF_HEADER) or str(form.get(CSRF_FIELD, ""))
                expected = session.csrf_token if session else pre
                if not _csrf_ok(supplied, expected):
                    return render(request, m, "mobile/message.html", _refused(), status=403)
            refusal = _who(m, role, request)
            if refusal is not None:
                return refusal
            response = await handler(request, m)
            if m.new_csrf_cookie:
                response.set_cookie(
                    PRE_CSRF_COOKIE,
                    m.csrf,
                    httponly=True,
                    samesite="Lax",
                    secure=settings.secure_cookies,
                    path=m.base,
                )
            return response

        page.__name__ = handler.__name__
        page.__doc__ = handler.__doc__
        return page

    return wrap


def _refused() -> dict[str, Any]:
    return {"title": "m.csrf.title", "text": "m.csrf.text", "level": "error"}


def _who(m: Mobile, role: Role, request: web.Request) -> web.StreamResponse | None:
    signed_in = m.registrant is not None or m.visitor is not None
    back = f"{m.base}/?next={quote(request.path_qs)}"
    if role == "anyone":
        return None
    if role == "signed_in" and not signed_in:
        return go(back)
    if role in ("registrant", "host") and m.registrant is None:
        return go(back)
    if role == "host" and not m.is_host:
        return go(f"{m.base}/home", "m.error.not_host", "error")
    if role == "visitor" and m.visitor is None:
        return go(f"{m.base}/visitor/signin?next={quote(request.path_qs)}")
    return None


def go(location: str, message: str | None = None, level: str = "success") -> web.Response:
    """A redirect (returned, not raised) with an optional flash message key."""
    response = web.Response(status=302, headers={"Location": location})
    if message:
        response.set_cookie(FLASH_COOKIE, f"{level}:{message}", httponly=True, samesite="Lax")
    return response


def safe_next(m: Mobile, target: str | None, fallback: str) -> str:
    """A redirect target inside this school's mobile pages."""
    if target and target.startswith(m.base + "/") and "//" not in target and "\\" not in target:
        return target
    return fallback


async def sign_in(
    request: web.Request,
    m: Mobile,
    response: web.StreamResponse,
    *,
    registrant: Registrant | None = None,
    visitor: Visitor | None = None,
) -> None:
    """Start a session for the phone (replacing the one it had) and set its cookie."""
    settings = request.app[SETTINGS_KEY]
    if m.session is not None:
        await m.session.delete()
    token = secrets.token_urlsafe(32)
    await MobileSession.create(
        token_hash=token_hash(token),
        tenant_id=m.tenant.id,
        registrant=registrant,
        visitor=visitor,
        csrf_token=secrets.token_urlsafe(24),
        expires_at=_now() + SESSION_LIFETIME,
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
        path=m.base,
        max_age=int(SESSION_LIFETIME.total_seconds()),
    )


async def sign_out(m: Mobile, response: web.StreamResponse) -> None:
    if m.session is not None:
        await m.session.delete()
    response.del_cookie(SESSION_COOKIE, path=m.base)


def render(
    request: web.Request,
    m: Mobile,
    template: str,
    context: Mapping[str, Any],
    status: int = 200,
) -> web.Response:
    """A mobile page: the school, who is signed in, the CSRF token, translation, flash."""
    lang = language_of(request)
    raw = request.cookies.get(FLASH_COOKIE, "")
    flashes = []
    if _FLASH.match(raw):
        level, key = raw.split(":", 1)
        flashes.append({"level": level, "key": key})
    base: dict[str, Any] = {
        "m": m,
        "tenant": m.tenant,
        "base": m.base,
        "csrf": m.csrf,
        "t": translator(lang),
        "lang": lang,
        "flashes": flashes,
        "zone": m.settings_zone,
        "local": lambda value, fmt="%Y-%m-%d %H:%M": (
            value.astimezone(m.settings_zone).strftime(fmt) if value else ""
        ),
        "title": "",
        "back": "",
        "refresh": 0,
    }
    response = aiohttp_jinja2.render_template(template, request, {**base, **context}, status=status)
    if raw:
        response.del_cookie(FLASH_COOKIE)
    return response


def error_text(request: web.Request, key: str, params: Mapping[str, Any] | None = None) -> str:
    lang = language_of(request)
    return i18n.t(key, lang, **(params or {})) if i18n.has(key) else i18n.t("error.invalid", lang)
