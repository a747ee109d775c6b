"""Org admin pages: sign-in, sign-out, language, users, roles, departments, positions, audit log."""

from __future__ import annotations

import secrets

from aiohttp import web

from cloud import i18n, ui
from cloud.auth import (
    PRELOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SETTINGS_KEY,
    LoginRefused,
    current,
    login,
    logout,
    set_session_cookie,
)
from cloud.org import service
from cloud.org.schemas import (
    AuditFilter,
    DepartmentIn,
    NameFilter,
    PositionIn,
    RoleIn,
    UserCreate,
    UserFilter,
    UserUpdate,
)
from cloud.permissions import PERMISSIONS
from cloud.ui import Column, Filter, FormField, Resource

GROUP = "menu.group.org"
NAME_FILTERS = (
    Filter("q", "field.name", placeholder="filter.contains"),
    Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES),
)
LANGUAGE_CHOICES = ui.static_choices([(code, f"lang.{code}") for code in i18n.LANGUAGES])
DEPARTMENTS = ui.service_choices(service.department_choices)
POSITIONS = ui.service_choices(service.position_choices)
ROLES = ui.service_choices(service.role_choices)

USERS = Resource(
    name="users",
    path="/users",
    title="users.title",
    group=GROUP,
    view_permission="users.view",
    edit_permission="users.edit",
    menu_order=10,
    columns=(
        Column("account", "field.account", sort="account", link=True),
        Column("name", "field.name", sort="name"),
        Column("phone", "field.phone"),
        Column("department_name", "field.department"),
        Column("position_name", "field.position"),
        Column("role_name", "field.role"),
        Column("is_admin", "field.is_admin", kind="bool"),
        Column("enabled", "field.enabled", kind="enabled"),
        Column("last_login_at", "field.last_login_at", sort="last_login_at", kind="datetime"),
    ),
    filter_model=UserFilter,
    filters=(
        Filter("q", "users.search", placeholder="users.search_hint"),
        Filter("department_id", "field.department", "select", DEPARTMENTS),
        Filter("role_id", "field.role", "select", ROLES),
        Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES),
    ),
    create_model=UserCreate,
    update_model=UserUpdate,
    fields=(
        FormField("account", "field.account", required=True, help="users.account_help"),
        FormField("name", "field.name", required=True),
        FormField("phone", "field.phone"),
        FormField("password", "field.password", "password", required=True, on="create"),
        FormField(
            "password", "field.new_password", "password", help="users.password_keep", on="update"
        ),
        FormField("department_id", "field.department", "select", DEPARTMENTS),
        FormField("position_id", "field.position", "select", POSITIONS),
        FormField("role_id", "field.role", "select", ROLES),
        FormField("language", "field.language", "select", LANGUAGE_CHOICES),
        FormField("is_admin", "field.is_admin", "checkbox", help="users.admin_help"),
    ),
    crud=service.USERS,
    label_of=lambda u: f"{u.name} ({u.account})",
)

ROLES_PAGE = Resource(
    name="roles",
    path="/roles",
    title="roles.title",
    group=GROUP,
    view_permission="roles.edit",
    edit_permission="roles.edit",
    menu_order=20,
    columns=(
        Column("name", "field.name", sort="name", link=True),
        Column("permissions", "field.permissions", kind="list", prefix="perm.code."),
        Column("enabled", "field.enabled", kind="enabled"),
    ),
    filter_model=NameFilter,
    filters=NAME_FILTERS,
    create_model=RoleIn,
    update_model=RoleIn,
    fields=(
        FormField("name", "field.name", required=True),
        FormField(
            "permissions",
            "field.permissions",
            "checkboxes",
            ui.static_choices([(p.code, p.label) for p in PERMISSIONS]),
        ),
    ),
    crud=service.ROLES,
    label_of=lambda r: r.name,
)

DEPARTMENTS_PAGE = Resource(
    name="departments",
    path="/departments",
    title="departments.title",
    group=GROUP,
    view_permission="users.view",
    edit_permission="users.edit",
    menu_order=30,
    columns=(
        Column("name", "field.name", sort="name", link=True),
        Column("parent_name", "field.parent"),
        Column("sort", "field.sort", sort="sort"),
        Column("enabled", "field.enabled", kind="enabled"),
    ),
    filter_model=NameFilter,
    filters=NAME_FILTERS,
    create_model=DepartmentIn,
    update_model=DepartmentIn,
    fields=(
        FormField("name", "field.name", required=True),
        FormField("parent_id", "field.parent", "select", DEPARTMENTS),
        FormField("sort", "field.sort", "number"),
    ),
    crud=service.DEPARTMENTS,
    label_of=lambda d: d.name,
)

POSITIONS_PAGE = Resource(
    name="positions",
    path="/positions",
    title="positions.title",
    group=GROUP,
    view_permission="users.view",
    edit_permission="users.edit",
    menu_order=40,
    columns=(
        Column("name", "field.name", sort="name", link=True),
        Column("enabled", "field.enabled", kind="enabled"),
    ),
    filter_model=NameFilter,
    filters=NAME_FILTERS,
    create_model=PositionIn,
    update_model=PositionIn,
    fields=(FormField("name", "field.name", required=True),),
    crud=service.POSITIONS,
    label_of=lambda p: p.name,
)

AUDIT_PAGE = Resource(
    name="audit",
    path="/audit",
    title="audit.title",
    group=GROUP,
    view_permission="audit.view",
    edit_permission="audit.view",
    menu_order=50,
    columns=(
        Column("at", "field.at", sort="at", kind="datetime"),
        Column("user_account", "field.user"),
        Column("action", "field.action", kind="enum", prefix="audit.action."),
        Column("entity", "field.entity", kind="enum", prefix="audit.entity."),
        Column("entity_id", "field.entity_id"),
        Column("detail", "field.detail", kind="changes"),
    ),
    filter_model=AuditFilter,
    filters=(
        Filter(
            "entity",
            "field.entity",
            "select",
            ui.static_choices([(e, f"audit.entity.{e}") for e in i18n.AUDIT_ENTITIES]),
        ),
        Filter(
            "action",
            "field.action",
            "select",
            ui.static_choices([(a, f"audit.action.{a}") for a in i18n.AUDIT_ACTIONS]),
        ),
        Filter("user_id", "field.user", "select", ui.service_choices(service.user_choices)),
        Filter("at_from", "field.from", "datetime"),
        Filter("at_to", "field.to", "datetime"),
    ),
    crud=service.AUDIT,
)

RESOURCES = (USERS, ROLES_PAGE, DEPARTMENTS_PAGE, POSITIONS_PAGE, AUDIT_PAGE)

# --- sign-in, sign-out, language ------------------------------------------------------------


def _prelogin_token(request: web.Request) -> str:
    return request.cookies.get(PRELOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)


def _login_form(
    request: web.Request, token: str, *, account: str = "", error: str = "", status: int = 200
) -> web.Response:
    response = ui.render(
        request,
        "login.html",
        {
            "csrf_token": token,
            "account": account,
            "error": error,
            "next": ui.safe_next(request.query.get("next")),
        },
        status=status,
    )
    # Before sign-in the CSRF token lives in this cookie; the middleware compares the form's to it.
    response.set_cookie(
        PRELOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        path="/",
        secure=request.app[SETTINGS_KEY].secure_cookies,
    )
    return response


async def login_page(request: web.Request) -> web.StreamResponse:
    if current(request) is not None:
        raise web.HTTPFound(ui.safe_next(request.query.get("next")))
    return _login_form(request, _prelogin_token(request))


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    account = str(form.get("account", "")).strip()
    password = str(form.get("password", ""))
    settings = request.app[SETTINGS_KEY]
    lang = ui.language_of(request)
    token = _prelogin_token(request)
    if not account or not password:
        error = i18n.t("login.missing", lang)
        return _login_form(request, token, account=account, error=error, status=400)
    try:
        _, session, _ = await login(settings, account, password, request.remote or "")
    except LoginRefused as exc:
        error = i18n.t(exc.key, lang, **exc.params)
        status = 429 if exc.key == "login.throttled" else 400
        return _login_form(request, token, account=account, error=error, status=status)
    response = web.HTTPFound(ui.safe_next(str(form.get("next", "")) or None))
    set_session_cookie(response, session, settings)
    response.del_cookie(PRELOGIN_CSRF_COOKIE, path="/")
    raise response


async def logout_submit(request: web.Request) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await logout(token)
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def language_submit(request: web.Request) -> web.StreamResponse:
    """Switch the UI language: remembered on the user, and in a cookie for the sign-in page."""
    form = await request.post()
    lang = str(form.get("lang", ""))
    if lang not in i18n.LANGUAGES:
        raise web.HTTPBadRequest(text="unknown language")
    principal = current(request)
    if principal is not None:
        await service.set_language(principal, lang)
    response = web.HTTPFound(ui.safe_next(str(form.get("next", "")) or None))
    response.set_cookie(ui.LANG_COOKIE, lang, samesite="Lax", path="/", max_age=365 * 86400)
    raise response


def setup(app: web.Application) -> None:
    app.router.add_get("/login", login_page, name="login")
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout_submit, name="logout")
    app.router.add_post("/language", language_submit, name="language")
    for resource in RESOURCES:
        ui.mount(app, resource)
