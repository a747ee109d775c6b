"""JSON routes of the org domain under /api/v1: sign-in for API clients, the signed-in user."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from cloud.api import ApiRoute, crud_routes, invalid_response
from cloud.auth import (
    API_LOGIN_PATH,
    SESSION_COOKIE,
    SETTINGS_KEY,
    LoginRefused,
    Principal,
    login,
    logout,
    set_session_cookie,
)
from cloud.org import schemas
from cloud.org import service as svc


class MeOut(BaseModel):
    user_id: int
    tenant_id: int
    account: str
    name: str
    is_admin: bool
    permissions: list[str]
    language: str
    csrf_token: str = Field(description="send it back as X-CSRF-Token on every write")


class LoginIn(BaseModel):
    account: str = Field(min_length=1, max_length=64, description="account or phone number")
    password: str = Field(min_length=1, max_length=128)


async def api_login(request: web.Request) -> web.Response:
    """Sign in with JSON; the session cookie is set and the CSRF token returned for later writes."""
    try:
        body = LoginIn.model_validate(await request.json())
    except ValidationError as exc:
        return invalid_response(exc, where="body")
    except ValueError:
        return web.json_response(
            {"error": "bad_json", "field": "(body)", "message": "body is not valid JSON"},
            status=400,
        )
    settings = request.app[SETTINGS_KEY]
    try:
        user, token, csrf = await login(settings, body.account, body.password, request.remote or "")
    except LoginRefused as exc:
        status = 429 if exc.key == "login.throttled" else 401
        return web.json_response(
            {"error": exc.key, "message": exc.key, **exc.params}, status=status
        )
    response = web.json_response({"user_id": user.id, "csrf_token": csrf})
    set_session_cookie(response, token, settings)
    return response


async def api_logout(request: web.Request) -> web.Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await logout(token)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def setup(app: web.Application) -> None:
    """Routes outside the declared API table: sign-in has no principal yet."""
    app.router.add_post(API_LOGIN_PATH, api_login)
    app.router.add_post("/api/v1/auth/logout", api_logout)


async def me(principal: Principal, request: web.Request) -> MeOut:
    return MeOut(
        user_id=principal.user_id,
        tenant_id=principal.tenant_id,
        account=principal.account,
        name=principal.name,
        is_admin=principal.is_admin,
        permissions=sorted(principal.permissions),
        language=principal.language,
        csrf_token=principal.csrf_token,
    )


ROUTES: list[ApiRoute] = [
    ApiRoute("GET", "/me", me, "The signed-in user", None, response=MeOut, tags=("org",)),
]


USERS = ("users.view", "users.edit")
ROUTES += [
    *crud_routes("/users", "org", USERS, svc.USERS, schemas.UserOut, schemas.UserFilter, schemas.UserCreate, schemas.UserUpdate),
    *crud_routes("/roles", "org", ("roles.edit", "roles.edit"), svc.ROLES, schemas.RoleOut, schemas.NameFilter, schemas.RoleIn, schemas.RoleIn),
    *crud_routes("/departments", "org", USERS, svc.DEPARTMENTS, schemas.DepartmentOut, schemas.NameFilter, schemas.DepartmentIn, schemas.DepartmentIn),
    *crud_routes("/positions", "org", USERS, svc.POSITIONS, schemas.PositionOut, schemas.NameFilter, schemas.PositionIn, schemas.PositionIn),
    *crud_routes("/audit-log", "org", ("audit.view", "audit.view"), svc.AUDIT, schemas.AuditOut, schemas.AuditFilter),
]  # fmt: skip
