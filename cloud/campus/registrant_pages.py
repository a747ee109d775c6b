"""Registrant admin pages: identity settings and types, the registrant list with its row actions,
access rules per registrant and in bulk by filter, Excel templates, import and import results."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import time
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from pydantic import ValidationError

from cloud import i18n, ui
from cloud.auth import Principal, principal_of, require
from cloud.campus import identities, imports, registrants
from cloud.campus import texts_registrants as _texts  # noqa: F401 - registers the texts
from cloud.campus.models import IdentityKind, ImportKind, ImportState
from cloud.campus.registrant_schemas import (
    BulkRuleIn,
    IdentitySettingIn,
    IdentityTypeFilter,
    IdentityTypeIn,
    ImportJobFilter,
    RegistrantFilter,
    RegistrantIn,
    RegistrantRuleIn,
)
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.service import department_choices
from cloud.ui import Column, Filter, FormField, MenuItem, Resource
from cloud.ui.resources import Choices
from cloud.ui.views import (
    _choices,
    _crumbs,
    _strip_bad_fields,
    _url,
    action_view,
    error_text,
    export_view,
    form_view,
    list_view,
    validation_errors,
)

GROUP = "menu.group.campus"
VIEW, EDIT = "campus.view", "campus.edit"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

KINDS = ui.enum_choices(IdentityKind, "registrants.kind.")
ENABLED = Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES)
YES_NO = ui.static_choices([("true", "common.yes"), ("false", "common.no")])
REGISTERED = ui.static_choices(
    [("true", "registrants.registered.True"), ("false", "registrants.registered.False")]
)
DEPARTMENTS = ui.service_choices(department_choices)
WEEKDAYS = ui.static_choices([(str(day), f"weekday.{day}") for day in range(1, 8)])
CAMPUSES = ui.service_choices(registrants.campus_choices)
GATES = ui.service_choices(registrants.campus_gate_choices)


async def _form_kinds(principal: Principal, lang: str) -> Choices:
    """Every kind; those the school has closed say so (the service refuses them)."""
    open_kinds = await identities.enabled_kinds(principal.tenant_id)
    closed = i18n.t("registrants.kind_closed_mark", lang)
    return [
        (
            kind.value,
            i18n.t(f"registrants.kind.{kind.value}", lang) + ("" if kind in open_kinds else closed),
        )
        for kind in IdentityKind
    ]


# --- identity types ---------------------------------------------------------------------------

IDENTITY_TYPES_PAGE = Resource(
    name="identity_types",
    path="/campus/identity-types",
    title="identities.types_title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=11,
    columns=(
        Column("name", "identities.type_name", sort="name", link=True),
        Column(
            "kind", "registrants.field.kind", sort="kind", kind="enum", prefix="registrants.kind."
        ),
        Column("description", "identities.description"),
        Column("face_required", "identities.face_required", kind="bool"),
        Column("enabled", "field.enabled", kind="enabled"),
        Column("operator", "registrants.field.operator"),
        Column("created_at", "field.created_at", sort="created_at", kind="datetime"),
    ),
    filter_model=IdentityTypeFilter,
    filters=(
        Filter("q", "field.search", placeholder="filter.contains"),
        Filter("kind", "registrants.field.kind", "select", KINDS),
        ENABLED,
    ),
    create_model=IdentityTypeIn,
    update_model=IdentityTypeIn,
    fields=(
        FormField("kind", "registrants.field.kind", "select", KINDS, required=True),
        FormField("name", "identities.type_name", required=True),
        FormField("description", "identities.description", "textarea"),
        FormField(
            "face_required", "identities.face_required", "checkbox", help="identities.face_help"
        ),
    ),
    crud=identities.IDENTITY_TYPES,
    label_of=lambda row: row.name,
)

# --- registrants --------------------------------------------------------------------------------

REGISTRANTS_PAGE = Resource(
    name="registrants",
    path="/campus/registrants",
    title="registrants.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=12,
    columns=(
        Column("name", "registrants.field.name", sort="name", link=True),
        Column("id_card_tail", "registrants.field.id_card_tail"),
        Column("phone", "field.phone"),
        Column("number", "registrants.field.number", sort="number"),
        Column("department_name", "field.department"),
        Column("unit", "registrants.field.unit"),
        Column("motor_count", "registrants.field.motor_count"),
        Column("ebike_count", "registrants.field.ebike_count"),
        Column("kind", "registrants.field.kind", kind="enum", prefix="registrants.kind."),
        Column("identity_type_name", "registrants.field.identity_type"),
        Column("visitor_authorised", "registrants.field.visitor_authorised", kind="bool"),
        Column(
            "registered",
            "registrants.field.registered",
            kind="enum",
            prefix="registrants.registered.",
        ),
        Column("enabled", "field.enabled", kind="enabled"),
        Column("created_at", "field.created_at", sort="created_at", kind="datetime"),
    ),
    filter_model=RegistrantFilter,
    filters=(
        Filter("q", "field.search", placeholder="registrants.search_hint"),
        Filter("kind", "registrants.field.kind", "select", KINDS),
        Filter(
            "identity_type_id", "registrants.field.identity_type", "select", identities.type_choices
        ),
        Filter("department_id", "field.department", "select", DEPARTMENTS),
        Filter("visitor_authorised", "registrants.field.visitor_authorised", "select", YES_NO),
        Filter("registered", "registrants.field.registered", "select", REGISTERED),
        ENABLED,
    ),
    create_model=RegistrantIn,
    update_model=RegistrantIn,
    fields=(
        FormField("kind", "registrants.field.kind", "select", _form_kinds, required=True),
        FormField(
            "identity_type_id",
            "registrants.field.identity_type",
            "select",
            identities.type_choices,
            help="registrants.type_help",
        ),
        FormField("name", "registrants.field.name", required=True),
        FormField(
            "number", "registrants.field.number", required=True, help="registrants.number_help"
        ),
        FormField(
            "id_card_tail", "registrants.field.id_card_tail", help="registrants.id_card_help"
        ),
        FormField("phone", "field.phone", help="registrants.phone_help"),
        FormField("department_id", "field.department", "select", DEPARTMENTS),
        FormField("unit", "registrants.field.unit"),
    ),
    crud=registrants.REGISTRANTS,
    label_of=lambda row: f"{row.name} ({row.number})",
)

# --- import results --------------------------------------------------------------------------

IMPORTS_PAGE = Resource(
    name="imports",
    path="/campus/imports",
    title="imports.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=13,
    columns=(
        Column("filename", "imports.field.filename"),
        Column("kind", "imports.field.kind", kind="enum", prefix="imports.kind."),
        Column("created_at", "imports.field.created_at", sort="created_at", kind="datetime"),
        Column("state", "imports.field.state", kind="enum", prefix="imports.state."),
        Column("total", "imports.field.total"),
        Column("imported", "imports.field.imported"),
        Column("rejected", "imports.field.rejected"),
        Column("error", "imports.field.error", kind="wrap"),
        Column("operator", "registrants.field.operator"),
    ),
    filter_model=ImportJobFilter,
    filters=(
        Filter(
            "kind", "imports.field.kind", "select", ui.enum_choices(ImportKind, "imports.kind.")
        ),
        Filter(
            "state", "imports.field.state", "select", ui.enum_choices(ImportState, "imports.state.")
        ),
    ),
    crud=imports.IMPORT_JOBS,
)


# --- a list page with its own template ---------------------------------------------------------


async def _filter_query(request: web.Request, principal: Principal) -> dict[str, Any]:
    """The list's filters as a query string, for the toolbar's bulk actions over them."""
    given = {f.name: request.query.get(f.name, "") for f in REGISTRANTS_PAGE.filters}
    return {"filter_query": urlencode({k: v for k, v in given.items() if v})}


registrants_list = list_view(REGISTRANTS_PAGE, "campus/registrants/list.html", _filter_query)
imports_list = list_view(IMPORTS_PAGE, "campus/registrants/imports.html")


def _row_id(request: web.Request) -> int:
    return int(request.match_info["id"])


def _confirmed(
    resource: Resource, action: str, run: Callable[[Principal, int], Awaitable[Any]], done: str
) -> tuple[Handler, Handler]:
    """A row action: GET asks for confirmation, POST runs it; a refusal comes back as a flash."""

    @require(resource.edit_permission)
    async def confirm(request: web.Request) -> web.StreamResponse:
        assert resource.crud.get is not None
        row = await resource.crud.get(principal_of(request), _row_id(request))
        label = resource.label_of(row)
        return ui.render(
            request,
            "confirm.html",
            {
                "resource": resource,
                "action": action,
                "row_label": label,
                "target": request.path,
                "crumbs": _crumbs(resource, (label, None)),
            },
        )

    @require(resource.edit_permission)
    async def act(request: web.Request) -> web.StreamResponse:
        try:
            await run(principal_of(request), _row_id(request))
        except (Invalid, Conflict) as exc:
            raise ui.redirect(resource.path, exc.message, "error") from exc
        raise ui.redirect(resource.path, done)

    return confirm, act


async def _authorise(principal: Principal, ident: int) -> Any:
    return await registrants.set_visitor_authorised(principal, ident, True)


async def _unauthorise(principal: Principal, ident: int) -> Any:
    return await registrants.set_visitor_authorised(principal, ident, False)


@require(EDIT)
async def authorise_teachers(request: web.Request) -> web.StreamResponse:
    """GET asks (saying how many teachers are not yet authorised), POST authorises them all."""
    principal = principal_of(request)
    if request.method == "POST":
        count = await registrants.authorise_all_teachers(principal)
        raise ui.redirect(
            f"{REGISTRANTS_PAGE.path}?kind=teacher",
            "registrants.flash.teachers_authorised"
            if count
            else "registrants.flash.none_to_authorise",
        )
    waiting = await registrants.count_matching(
        principal, RegistrantFilter(kind=IdentityKind.teacher, visitor_authorised=False)
    )
    return ui.render(
        request,
        "confirm.html",
        {
            "resource": REGISTRANTS_PAGE,
            "action": "authorise_teachers",
            "row_label": str(waiting),
            "target": request.path,
            "crumbs": _crumbs(REGISTRANTS_PAGE, ("action.authorise_teachers", None)),
        },
    )


# --- identity settings --------------------------------------------------------------------------


async def _settings_page(
    request: web.Request,
    values: Mapping[IdentityKind, tuple[bool, bool]] | None = None,
    error: str = "",
    status: int = 200,
) -> web.Response:
    principal = principal_of(request)
    saved = await identities.settings_of(principal.tenant_id)
    rows = [
        {
            "kind": kind.value,
            "enabled": values[kind][0] if values else saved[kind].enabled,
            "face_required": values[kind][1] if values else saved[kind].face_required,
        }
        for kind in IdentityKind
    ]
    return ui.render(
        request,
        "campus/registrants/settings.html",
        {
            "rows": rows,
            "error": error,
            "can_edit": principal.can(EDIT),
            "crumbs": [("menu.home", "/"), (GROUP, None), ("identities.settings_title", None)],
        },
        status=status,
    )


@require(VIEW)
async def settings_show(request: web.Request) -> web.StreamResponse:
    return await _settings_page(request)


@require(EDIT)
async def settings_save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {
        kind: (f"enabled_{kind.value}" in form, f"face_{kind.value}" in form)
        for kind in IdentityKind
    }
    data = [
        IdentitySettingIn(kind=kind, enabled=enabled, face_required=face)
        for kind, (enabled, face) in values.items()
    ]
    try:
        await identities.save_settings(principal_of(request), data)
    except Invalid as exc:
        return await _settings_page(request, values, exc.message, status=400)
    raise ui.redirect("/campus/identity-settings", "flash.saved")


# --- access rules of one registrant -------------------------------------------------------------


def _rule_form(form: Mapping[str, Any]) -> dict[str, Any]:
    getall = getattr(form, "getall", None)

    def many(name: str) -> list[str]:
        return [str(v) for v in getall(name, [])] if getall else []

    return {
        "site_id": str(form.get("site_id", "")).strip() or None,
        "gates": many("gates"),
        "weekdays": many("weekdays"),
        "start_time": str(form.get("start_time", "")).strip() or None,
        "end_time": str(form.get("end_time", "")).strip() or None,
    }


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """Blank times take the rule's defaults (the whole day)."""
    return {k: v for k, v in data.items() if v is not None}


async def _rule_choices(principal: Principal, lang: str) -> dict[str, Choices]:
    return {
        "site_id": await CAMPUSES(principal, lang),
        "gates": await GATES(principal, lang),
        "weekdays": await WEEKDAYS(principal, lang),
    }


def _rule_errors(exc: ValidationError | Invalid, lang: str) -> dict[str, str]:
    if isinstance(exc, Invalid):
        return {exc.field: error_text(exc.message, lang)}
    return {k: error_text(v, lang) for k, v in validation_errors(exc).items()}


async def _rules_page(
    request: web.Request,
    ident: int,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    principal = principal_of(request)
    lang = ui.language_of(request)
    registrant = await registrants.get_registrant(principal, ident)
    rules = await registrants.list_rules(principal, ident)
    label = REGISTRANTS_PAGE.label_of(registrant)
    return ui.render(
        request,
        "campus/registrants/rules.html",
        {
            "resource": REGISTRANTS_PAGE,
            "registrant": registrant,
            "rules": rules,
            "choices": await _rule_choices(principal, lang),
            "values": values
            or {
                "weekdays": [str(d) for d in range(1, 8)],
                "start_time": "00:00",
                "end_time": "23:59",
            },
            "errors": errors or {},
            "can_edit": principal.can(EDIT),
            "fmt_time": lambda value: value.strftime("%H:%M") if isinstance(value, time) else "",
            "crumbs": _crumbs(REGISTRANTS_PAGE, (label, None), ("registrants.rules_title", None)),
        },
        status=status,
    )


@require(VIEW)
async def rules_show(request: web.Request) -> web.StreamResponse:
    return await _rules_page(request, _row_id(request))


@require(EDIT)
async def rules_add(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    ident = _row_id(request)
    await registrants.get_registrant(principal, ident)  # another school's row: 404 first
    form = await request.post()
    data = _rule_form(form)
    lang = ui.language_of(request)
    try:
        rule = RegistrantRuleIn.model_validate(_clean(data))
        await registrants.add_rule(principal, ident, rule)
    except (ValidationError, Invalid) as exc:
        shown = {**data, "site_id": data["site_id"] or "", "start_time": data["start_time"] or "",
                 "end_time": data["end_time"] or ""}  # fmt: skip
        return await _rules_page(request, ident, shown, _rule_errors(exc, lang), status=400)
    raise ui.redirect(f"{REGISTRANTS_PAGE.path}/{ident}/rules", "flash.saved")


@require(EDIT)
async def rules_remove(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    ident = _row_id(request)
    await registrants.get_registrant(principal, ident)
    form = await request.post()
    raw = str(form.get("rule_id", ""))
    if not raw.isdigit():
        raise NotFound("registrant_rule", raw)
    await registrants.remove_rule(principal, ident, int(raw))
    raise ui.redirect(f"{REGISTRANTS_PAGE.path}/{ident}/rules", "flash.deleted")


# --- access rules in bulk, by the list's filter -------------------------------------------------

FILTER_NAMES = tuple(RegistrantFilter.model_fields)


def _bulk_filter(
    source: Mapping[str, Any],
) -> tuple[RegistrantFilter, dict[str, str], dict[str, str]]:
    """(filter, raw values as given, errors) out of a query string or a form."""
    raw = {name: str(source.get(name, "")).strip() for name in FILTER_NAMES}
    given: dict[str, Any] = {k: v for k, v in raw.items() if v}
    found, errors = _strip_bad_fields(RegistrantFilter, given)
    assert isinstance(found, RegistrantFilter)
    return found, raw, errors


async def _bulk_page(
    request: web.Request,
    source: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    principal = principal_of(request)
    lang = ui.language_of(request)
    found, raw, filter_errors = _bulk_filter(source)
    matching = await registrants.count_matching(principal, found)
    done = str(request.query.get("done", ""))
    return ui.render(
        request,
        "campus/registrants/bulk.html",
        {
            "resource": REGISTRANTS_PAGE,
            "filters": REGISTRANTS_PAGE.filters,
            "filter_choices": await _choices(REGISTRANTS_PAGE.filters, principal, lang),
            "state": raw,
            "filter_errors": filter_errors,
            "matching": matching,
            "done": int(done) if done.isdigit() else None,
            "choices": await _rule_choices(principal, lang),
            "values": values
            or {
                "mode": "replace",
                "weekdays": [str(d) for d in range(1, 8)],
                "start_time": "00:00",
                "end_time": "23:59",
            },
            "errors": errors or {},
            "error_text": error_text,
            "list_url": _url(REGISTRANTS_PAGE.path, raw),
            "crumbs": _crumbs(REGISTRANTS_PAGE, ("registrants.bulk_title", None)),
        },
        status=status,
    )


@require(EDIT)
async def bulk_show(request: web.Request) -> web.StreamResponse:
    return await _bulk_page(request, request.query)


@require(EDIT)
async def bulk_apply(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    lang = ui.language_of(request)
    form = await request.post()
    found, raw, filter_errors = _bulk_filter(form)
    mode = str(form.get("mode", ""))
    rule_data = _rule_form(form)
    shown = {
        **rule_data,
        "mode": mode,
        "site_id": rule_data["site_id"] or "",
        "start_time": rule_data["start_time"] or "",
        "end_time": rule_data["end_time"] or "",
    }
    if filter_errors:
        return await _bulk_page(request, form, shown, {}, status=400)
    if mode not in ("replace", "add", "clear"):
        errors = {"mode": error_text("error.required", lang)}
        return await _bulk_page(request, form, shown, errors, status=400)
    try:
        rule = RegistrantRuleIn.model_validate(_clean(rule_data)) if mode != "clear" else None
        data = BulkRuleIn(**found.model_dump(), mode=mode, rule=rule)  # type: ignore[arg-type]
        affected = await registrants.bulk_rules(principal, data)
    except (ValidationError, Invalid) as exc:
        return await _bulk_page(request, form, shown, _rule_errors(exc, lang), status=400)
    query = {k: v for k, v in raw.items() if v}
    raise ui.redirect(
        _url(f"{REGISTRANTS_PAGE.path}/bulk-rules", {**query, "done": affected}), "flash.saved"
    )


# --- templates, import, results ----------------------------------------------------------------


def _xlsx(name: str, data: bytes) -> web.Response:
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return web.Response(
        body=data,
        headers={
            "Content-Type": imports.XLSX_TYPE,
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
            ),
        },
    )


def template_view(kind: ImportKind) -> Handler:
    @require(VIEW)
    async def handler(request: web.Request) -> web.StreamResponse:
        return _xlsx(imports.template_filename(kind), imports.template(kind))

    handler.__name__ = f"{kind.value}_template"
    return handler


@require(VIEW)
async def rejects_download(request: web.Request) -> web.StreamResponse:
    name, data = await imports.job_rejects(principal_of(request), _row_id(request))
    return _xlsx(name, data)


def _import_kind(value: Any) -> ImportKind:
    try:
        return ImportKind(str(value))
    except ValueError:
        return ImportKind.registrants


async def _upload_page(
    request: web.Request, kind: ImportKind, error: str = "", status: int = 200
) -> web.Response:
    return ui.render(
        request,
        "campus/registrants/import.html",
        {
            "resource": IMPORTS_PAGE,
            "kind": kind.value,
            "kinds": [k.value for k in ImportKind],
            "error": error,
            "max_mb": imports.MAX_BYTES // (1024 * 1024),
            "max_rows": imports.MAX_ROWS,
            "crumbs": _crumbs(IMPORTS_PAGE, ("imports.new_title", None)),
        },
        status=status,
    )


@require(EDIT)
async def upload_show(request: web.Request) -> web.StreamResponse:
    return await _upload_page(request, _import_kind(request.query.get("kind", "")))


@require(EDIT)
async def upload_save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    kind = _import_kind(form.get("kind", ""))
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return await _upload_page(request, kind, "imports.error.no_file", status=400)
    data = upload.file.read()
    job = await imports.run_import(principal_of(request), kind, upload.filename, data)
    target = _url(IMPORTS_PAGE.path, {"kind": kind.value})
    if job.state == ImportState.failed:
        raise ui.redirect(target, "imports.flash.failed", "error")
    raise ui.redirect(target, "imports.flash.rejected" if job.rejected else "imports.flash.done")


# --- mounting ------------------------------------------------------------------------------------


def _mount_registrants(app: web.Application) -> None:
    router = app.router
    resource = REGISTRANTS_PAGE
    path, one = resource.path, f"{resource.path}/{{id:\\d+}}"
    router.add_get(path, registrants_list, name="registrants.list")
    router.add_get(f"{path}/export.xlsx", export_view(resource), name="registrants.export")
    show, save = form_view(resource, "create")
    router.add_get(f"{path}/new", show, name="registrants.new")
    router.add_post(f"{path}/new", save)
    show, save = form_view(resource, "update")
    router.add_get(f"{one}/edit", show, name="registrants.edit")
    router.add_post(f"{one}/edit", save)
    confirm, act = action_view(resource)
    actions = "{action:(?:enable|disable|delete)}"
    router.add_get(f"{one}/{actions}", confirm, name="registrants.confirm")
    router.add_post(f"{one}/{actions}", act)
    for action, run, done in (
        ("registrant_unbind", registrants.unbind, "registrants.flash.unbound"),
        ("visitor_authorise", _authorise, "registrants.flash.authorised"),
        ("visitor_unauthorise", _unauthorise, "registrants.flash.unauthorised"),
    ):
        confirm, act = _confirmed(resource, action, run, done)
        segment = action.split("_", 1)[1]
        router.add_get(f"{one}/{segment}", confirm, name=f"registrants.{segment}")
        router.add_post(f"{one}/{segment}", act)
    router.add_get(f"{one}/rules", rules_show, name="registrants.rules")
    router.add_post(f"{one}/rules", rules_add)
    router.add_post(f"{one}/rules/remove", rules_remove, name="registrants.rules_remove")
    router.add_get(f"{path}/bulk-rules", bulk_show, name="registrants.bulk_rules")
    router.add_post(f"{path}/bulk-rules", bulk_apply)
    router.add_get(
        f"{path}/authorise-teachers", authorise_teachers, name="registrants.authorise_teachers"
    )
    router.add_post(f"{path}/authorise-teachers", authorise_teachers)
    ui.add_menu(app, MenuItem(GROUP, resource.title, path, VIEW, resource.menu_order))


def _mount_imports(app: web.Application) -> None:
    router = app.router
    path = IMPORTS_PAGE.path
    router.add_get(path, imports_list, name="imports.list")
    router.add_get(f"{path}/export.xlsx", export_view(IMPORTS_PAGE), name="imports.export")
    router.add_get(f"{path}/new", upload_show, name="imports.new")
    router.add_post(f"{path}/new", upload_save)
    for kind in ImportKind:
        router.add_get(
            f"{path}/templates/{kind.value}.xlsx",
            template_view(kind),
            name=f"imports.template_{kind.value}",
        )
    router.add_get(f"{path}/{{id:\\d+}}/rejects.xlsx", rejects_download, name="imports.rejects")
    ui.add_menu(app, MenuItem(GROUP, IMPORTS_PAGE.title, path, VIEW, IMPORTS_PAGE.menu_order))


def setup(app: web.Application) -> None:
    """Mount the identity, registrant and import pages."""
    app.router.add_get("/campus/identity-settings", settings_show, name="identity_settings")
    app.router.add_post("/campus/identity-settings", settings_save)
    ui.add_menu(
        app, MenuItem(GROUP, "identities.settings_title", "/campus/identity-settings", VIEW, 10)
    )
    ui.mount(app, IDENTITY_TYPES_PAGE)
    _mount_registrants(app)
    _mount_imports(app)
