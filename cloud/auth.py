"""Sign-in, sessions, CSRF and permissions for admin pages and the JSON API."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from tortoise.expressions import Q

from cloud.org.models import AuditLog, LoginFailure, Session, User
from cloud.passwords import hash_password, verify_password
from cloud.permissions import CODES
from cloud.settings import CloudSettings

SESSION_COOKIE = "wayside_session"
PRELOGIN_CSRF_COOKIE = "wayside_csrf"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Machine-to-machine routes authenticate otherwise (edge keys, device pushes) and carry no cookie.
# /m/ pages check their own CSRF token, bound to the phone's mobile session (cloud.campus.mobile).
CSRF_EXEMPT_PREFIXES = ("/sync/", "/m/", "/payments/callback/")
# A JSON body cannot be sent cross-site without a CORS preflight, which this server never grants.
API_LOGIN_PATH = "/api/v1/auth/login"

SETTINGS_KEY = web.AppKey("settings", CloudSettings)
# A password hash to check against when the account does not exist, so timing reveals nothing.
_DUMMY_HASH = hash_password(secrets.token_hex(8))

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Principal:
    """Who is asking: the signed-in user with the tenant and permissions every query is scoped by."""

    user_id: int
    tenant_id: int
    account: str
    name: str
    is_admin: bool
    permissions: frozenset[str]
    csrf_token: str
    language: str

    def can(self, permission: str) -> bool:
        return self.is_admin or permission in self.permissions


class LoginRefused(Exception):
    """Wrong credentials, a disabled user, or too many recent failures; message is a translation key."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


async def _recent_failures(key: str, since: datetime) -> int:
    return await LoginFailure.filter(key=key, at__gte=since).count()


async def login(
    settings: CloudSettings, identifier: str, password: str, client: str
) -> tuple[User, str, str]:
    """Check account-or-phone + password; returns (user, session token, csrf token)."""
    identifier = identifier.strip()
    window_start = _now() - timedelta(minutes=settings.login_window_minutes)
    keys = (f"account:{identifier.lower()}", f"client:{client}")
    for key in keys:
        if await _recent_failures(key, window_start) >= settings.login_max_failures:
            raise LoginRefused("login.throttled", minutes=settings.login_window_minutes)
    user = await User.filter(Q(account=identifier) | Q(phone=identifier)).first()
    valid = verify_password(password, user.password_hash if user else _DUMMY_HASH)
    if user is None or not valid:
        await LoginFailure.bulk_create([LoginFailure(key=key) for key in keys])
        raise LoginRefused("login.bad_credentials")
    if not user.enabled:
        raise LoginRefused("login.disabled")
    await LoginFailure.filter(key=keys[0]).delete()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    await Session.create(
        token_hash=_token_hash(token),
        user=user,
        csrf_token=csrf,
        expires_at=_now() + timedelta(minutes=settings.session_idle_minutes),
    )
    user.last_login_at = _now()
    await user.save(update_fields=["last_login_at"])
    await AuditLog.create(
        tenant_id=user.tenant_id, user=user, action="login", entity="user", entity_id=str(user.id)
    )
    return user, token, csrf


async def logout(token: str) -> None:
    await Session.filter(token_hash=_token_hash(token)).delete()


async def principal_for(token: str, settings: CloudSettings) -> Principal | None:
    session = await Session.filter(token_hash=_token_hash(token)).select_related("user").first()
    if session is None:
        return None
    now = _now()
    if session.expires_at <= now:
        await session.delete()
        return None
    user = session.user
    if not user.enabled:
        return None
    # Slide the idle timeout, but write at most once a minute per session.
    new_expiry = now + timedelta(minutes=settings.session_idle_minutes)
    if new_expiry - session.expires_at > timedelta(minutes=1):
        session.expires_at = new_expiry
        await session.save(update_fields=["expires_at"])
    permissions: frozenset[str] = frozenset()
    if user.role_id is not None:
        await user.fetch_related("role")
        if user.role is not None and user.role.enabled:
            permissions = frozenset(p for p in user.role.permissions if p in CODES)
    return Principal(
        user_id=user.id,
        tenant_id=user.tenant_id,
        account=user.account,
        name=user.name,
        is_admin=user.is_admin,
        permissions=permissions,
        csrf_token=session.csrf_token,
        language=user.language,
    )


PRINCIPAL = web.RequestKey[Principal | None]("principal")


def current(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


def set_session_cookie(response: web.StreamResponse, token: str, settings: CloudSettings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
        path="/",
        max_age=settings.session_idle_minutes * 60,
    )


def _is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def _csrf_supplied(request: web.Request, form: Any) -> str:
    header = request.headers.get(CSRF_HEADER, "")
    if header:
        return header
    value = form.get(CSRF_FIELD, "") if form is not None else ""
    return str(value)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the principal and refuse cross-site writes: every unsafe method carries the CSRF token."""
    settings = request.app[SETTINGS_KEY]
    token = request.cookies.get(SESSION_COOKIE)
    principal = await principal_for(token, settings) if token else None
    request[PRINCIPAL] = principal
    exempt = request.path.startswith(CSRF_EXEMPT_PREFIXES) or (
        request.path == API_LOGIN_PATH and request.content_type == "application/json"
    )
    if request.method not in SAFE_METHODS and not exempt:
        form = None
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
        supplied = _csrf_supplied(request, form)
        expected = (
            principal.csrf_token if principal else request.cookies.get(PRELOGIN_CSRF_COOKIE, "")
        )
        if not expected or not secrets.compare_digest(supplied, expected):
            if _is_api(request):
                return web.json_response(
                    {"error": "csrf", "message": "missing or wrong CSRF token"}, status=403
                )
            raise web.HTTPForbidden(text="CSRF token missing or wrong; reload the page and retry")
    return await handler(request)


def require(permission: str | None = None) -> Callable[[Handler], Handler]:
    """Guard a handler: signed in (pages redirect to /login, API gets 401) and holding `permission`."""

    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            principal = current(request)
            if principal is None:
                if _is_api(request):
                    return web.json_response(
                        {"error": "unauthenticated", "message": "sign in first"}, status=401
                    )
                raise web.HTTPFound(f"/login?next={request.path_qs}")
            if permission is not None and not principal.can(permission):
                if _is_api(request):
                    return web.json_response(
                        {"error": "forbidden", "message": f"needs permission {permission}"},
                        status=403,
                    )
                raise web.HTTPForbidden(text=f"needs permission {permission}")
            return await handler(request)

        guarded.__name__ = handler.__name__
        guarded.__doc__ = handler.__doc__
        setattr(guarded, "__wayside_permission__", permission)  # noqa: B010
        return guarded

    return wrap


def principal_of(request: web.Request) -> Principal:
    """The principal of a request that passed `require`."""
    principal = current(request)
    assert principal is not None, "handler is not guarded by require()"
    return principal
