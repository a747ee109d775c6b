"""Vehicle admin pages: the vehicle list (4.3) with detail, edit, enable/disable, unlink and
delete; registration review (4.4) with approve/reject; e-bike QR labels; gate QR posters (3.1.2).

The lists are the generic declarations rendered through campus templates, which add the row
actions and links these pages need beside the generic ones.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import segno
from aiohttp import web
from markupsafe import Markup
from openpyxl import Workbook
from pydantic import BaseModel, ValidationError

from cloud import i18n, ui
from cloud.auth import Handler, Principal, principal_of, require
from cloud.campus import (
    posters,
    texts_vehicles,  # noqa: F401 - registers this module's texts
)
from cloud.campus import vehicles as service
from cloud.campus.models import IdentityKind, OwnerRelation, ReviewStatus, VehicleKind
from cloud.campus.vehicle_schemas import (
    VehicleApprove,
    VehicleCreate,
    VehicleFilter,
    VehicleOut,
    VehicleReject,
    VehicleUpdate,
)
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.service import department_choices
from cloud.ui import Column, Filter, FormField, MenuItem, Resource
from cloud.ui.layout import render_error
from cloud.ui.values import display
from cloud.ui.views import (
    _crumbs,
    _excel_value,
    _filter_data,
    _strip_bad_fields,
    action_view,
    error_text,
    export_rows,
    form_view,
    list_view,
    query_params,
    validation_errors,
)
from cloud.ui.views import (
    cell_text as generic_cell_text,
)

GROUP = "menu.group.campus"
# The vehicle import and its results list belong to the import pages (another part of the
# campus domain); their list route is looked up by name, this path is the agreed fallback.
IMPORT_VEHICLES_PATH = "/campus/imports?kind=vehicles"
IMPORTS_ROUTE = "imports.list"
KINDS = ui.enum_choices(VehicleKind, "campus_vehicles.kind.")
STATUSES = ui.enum_choices(ReviewStatus, "campus_vehicles.status.")
RELATIONS = ui.enum_choices(OwnerRelation, "campus_vehicles.relation.")
IDENTITY_KINDS = ui.enum_choices(IdentityKind, "campus_vehicles.identity.")
DEPARTMENTS = ui.service_choices(department_choices)

KIND = Filter("kind", "campus_vehicles.field.kind", "select", KINDS)
PLATE = Filter("plate", "campus_vehicles.field.plate", placeholder="campus_vehicles.filter.plate")
STATUS = Filter("status", "campus_vehicles.field.status", "select", STATUSES)
REGISTRANT = Filter(
    "registrant",
    "campus_vehicles.field.registrant",
    placeholder="campus_vehicles.filter.registrant",
)
IDENTITY = Filter("identity_kind", "campus_vehicles.field.identity_kind", "select", IDENTITY_KINDS)
ENABLED = Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES)

C_KIND = Column("kind", "campus_vehicles.field.kind", kind="enum", prefix="campus_vehicles.kind.")
C_PLATE = Column("plate", "campus_vehicles.field.plate", sort="plate", link=True)
C_VALIDITY = Column("valid_until", "campus_vehicles.field.validity", kind="validity")
C_OWNER = Column("owner_name", "campus_vehicles.field.owner_name")
C_STATUS = Column(
    "status", "campus_vehicles.field.status", kind="enum", prefix="campus_vehicles.status."
)
C_RELATION = Column(
    "relation", "campus_vehicles.field.relation", kind="enum", prefix="campus_vehicles.relation."
)
C_REGISTRANT = Column("registrant_name", "campus_vehicles.field.registrant")
C_IDENTITY = Column(
    "registrant_kind",
    "campus_vehicles.field.identity_kind",
    kind="enum",
    prefix="campus_vehicles.identity.",
)
C_NUMBER = Column("registrant_number", "campus_vehicles.field.number")
C_ENABLED = Column("enabled", "field.enabled", kind="enabled")

VEHICLES_PAGE = Resource(
    name="campus_vehicles",
    path="/campus/vehicles",
    title="campus_vehicles.title",
    group=GROUP,
    view_permission="campus.view",
    edit_permission="campus.edit",
    menu_order=40,
    columns=(
        C_KIND,
        C_PLATE,
        C_VALIDITY,
        C_OWNER,
        C_STATUS,
        C_RELATION,
        C_REGISTRANT,
        C_IDENTITY,
        C_NUMBER,
        C_ENABLED,
    ),
    filter_model=VehicleFilter,
    filters=(KIND, PLATE, STATUS, REGISTRANT, IDENTITY, ENABLED),
    update_model=VehicleUpdate,
    fields=(
        FormField(
            "plate", "campus_vehicles.field.plate", required=True, help="campus_vehicles.help.plate"
        ),
        FormField("owner_name", "campus_vehicles.field.owner_name"),
        FormField("relation", "campus_vehicles.field.relation", "select", RELATIONS, required=True),
        FormField(
            "valid_until", "campus_vehicles.field.validity", help="campus_vehicles.help.valid_until"
        ),
    ),
    crud=service.VEHICLE_PAGE,
    label_of=lambda v: v.plate,
)

REVIEWS_PAGE = Resource(
    name="campus_vehicle_reviews",
    path="/campus/vehicle-reviews",
    title="vreview.title",
    group=GROUP,
    view_permission="vehicles.review",
    edit_permission="vehicles.review",
    menu_order=45,
    columns=(
        C_KIND,
        C_PLATE,
        C_OWNER,
        C_RELATION,
        C_REGISTRANT,
        C_IDENTITY,
        C_NUMBER,
        Column("identity_type_name", "campus_vehicles.field.identity_type"),
        C_STATUS,
        Column(
            "submitted_at",
            "campus_vehicles.field.submitted_at",
            sort="submitted_at",
            kind="datetime",
        ),
        Column(
            "reviewed_at", "campus_vehicles.field.reviewed_at", sort="reviewed_at", kind="datetime"
        ),
    ),
    filter_model=VehicleFilter,
    filters=(
        KIND,
        STATUS,
        PLATE,
        REGISTRANT,
        IDENTITY,
        Filter("submitted_from", "campus_vehicles.field.submitted_from", "datetime"),
        Filter("submitted_to", "campus_vehicles.field.submitted_to", "datetime"),
    ),
    create_model=VehicleCreate,
    fields=(
        FormField(
            "registrant_number",
            "campus_vehicles.field.registrant_number",
            required=True,
            help="campus_vehicles.help.registrant_number",
        ),
        FormField("kind", "campus_vehicles.field.kind", "select", KINDS, required=True),
        FormField(
            "plate", "campus_vehicles.field.plate", required=True, help="campus_vehicles.help.plate"
        ),
        FormField(
            "owner_name", "campus_vehicles.field.owner_name", help="campus_vehicles.help.owner_name"
        ),
        FormField("relation", "campus_vehicles.field.relation", "select", RELATIONS, required=True),
    ),
    crud=service.REVIEWS,
    label_of=lambda v: v.plate,
)

LABELS_PAGE = Resource(
    name="campus_ebike_labels",
    path="/campus/ebike-labels",
    title="ebike_labels.title",
    group=GROUP,
    view_permission="campus.view",
    edit_permission="campus.edit",
    menu_order=50,
    columns=(
        C_KIND,
        C_PLATE,
        C_VALIDITY,
        Column("label_prints", "campus_vehicles.field.label_prints", sort="label_prints"),
        C_OWNER,
        C_STATUS,
        C_REGISTRANT,
        C_NUMBER,
        C_IDENTITY,
        Column("dept_unit", "campus_vehicles.field.dept_unit"),
        C_ENABLED,
    ),
    filter_model=VehicleFilter,
    filters=(
        PLATE,
        STATUS,
        REGISTRANT,
        IDENTITY,
        Filter("department_id", "campus_vehicles.field.department", "select", DEPARTMENTS),
        ENABLED,
    ),
    crud=service.EBIKES,
    label_of=lambda v: v.plate,
)

# --- list and export rendered with campus templates -------------------------------------------


def validity_text(item: Any, lang: str) -> str:
    """An e-bike's validity as people say it: long-term, or its last day."""
    if getattr(item, "long_term", False):
        return i18n.t("campus_vehicles.long_term", lang)
    value = getattr(item, "valid_until", None)
    return value.isoformat() if isinstance(value, date) else ""


def cell_text(item: Any, column: Column, lang: str, zone: ZoneInfo) -> str:
    if column.kind == "validity":
        return validity_text(item, lang)
    return generic_cell_text(item, column, lang, zone)


def list_page(
    resource: Resource,
    template: str,
    extra: Callable[[web.Request, Principal], Awaitable[dict[str, Any]]] | None = None,
) -> Handler:
    """The generic list, rendered by `template` (which extends list.html) with the campus cells
    (validity) and the import link; `extra` adds the page's own context."""

    async def context(request: web.Request, principal: Principal) -> dict[str, Any]:
        added = await extra(request, principal) if extra is not None else {}
        return {"import_path": import_path(request), **added}

    return list_view(resource, template, context, cell=cell_text)


def export_page(resource: Resource) -> Handler:
    """The generic Excel export, with the campus cells (validity) written as the list shows them."""

    @require(resource.view_permission)
    async def handler(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        lang = ui.language_of(request)
        zone = ui.zone_of(request)
        params = query_params(request, resource)
        filters, _ = _strip_bad_fields(resource.filter_model, _filter_data(request, resource))
        book = Workbook(write_only=True)
        sheet = book.create_sheet(i18n.t(resource.title, lang)[:31])
        sheet.append([i18n.t(c.label, lang) for c in resource.columns])
        async for item in export_rows(resource, principal, filters, params):
            sheet.append(
                [
                    cell_text(item, c, lang, zone)
                    if c.kind == "validity"
                    else _excel_value(getattr(item, c.name, None), c, lang, zone)
                    for c in resource.columns
                ]
            )
        stamp = datetime.now(zone).strftime("%Y%m%d-%H%M")
        with tempfile.NamedTemporaryFile(suffix=".xlsx") as spool:
            await asyncio.to_thread(book.save, spool.name)
            body = await asyncio.to_thread(_read, spool.name)
        return web.Response(
            body=body,
            headers={
                "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "Content-Disposition": f'attachment; filename="{resource.name}-{stamp}.xlsx"',
            },
        )

    return handler


def _read(path: str) -> bytes:
    with open(path, "rb") as source:
        return source.read()


def import_path(request: web.Request) -> str:
    """Where vehicles are imported: the import list, filtered to vehicle imports."""
    route = request.app.router.named_resources().get(IMPORTS_ROUTE)
    if route is None:
        return IMPORT_VEHICLES_PATH
    return str(route.url_for().with_query(kind="vehicles"))


def mount_list(
    app: web.Application,
    resource: Resource,
    template: str,
    extra: Callable[[web.Request, Principal], Awaitable[dict[str, Any]]] | None = None,
) -> None:
    """A resource's list (campus template), its export and its menu entry."""
    app.router.add_get(
        resource.path, list_page(resource, template, extra), name=f"{resource.name}.list"
    )
    if resource.export:
        app.router.add_get(
            f"{resource.path}/export.xlsx", export_page(resource), name=f"{resource.name}.export"
        )
    ui.add_menu(
        app,
        MenuItem(
            resource.group,
            resource.title,
            resource.path,
            resource.view_permission,
            resource.menu_order,
        ),
    )


def _ident(request: web.Request) -> int:
    return int(request.match_info["id"])


# --- vehicles: detail and unlink ----------------------------------------------------------------


def _facts(vehicle: VehicleOut, lang: str, zone: ZoneInfo) -> list[tuple[str, str]]:
    """(label key, text) of every particular the detail pages show."""

    def enum(value: Any, prefix: str) -> str:
        return display(value, "enum", lang, zone, prefix)

    return [
        ("campus_vehicles.field.kind", enum(vehicle.kind, "campus_vehicles.kind.")),
        ("campus_vehicles.field.plate", vehicle.plate),
        ("campus_vehicles.field.owner_name", vehicle.owner_name),
        ("campus_vehicles.field.relation", enum(vehicle.relation, "campus_vehicles.relation.")),
        (
            "campus_vehicles.field.registrant",
            vehicle.registrant_name or i18n.t("campus_vehicles.unlinked", lang),
        ),
        ("campus_vehicles.field.number", vehicle.registrant_number or ""),
        ("campus_vehicles.field.phone", vehicle.registrant_phone or ""),
        (
            "campus_vehicles.field.identity_kind",
            enum(vehicle.registrant_kind, "campus_vehicles.identity."),
        ),
        ("campus_vehicles.field.identity_type", vehicle.identity_type_name or ""),
        ("campus_vehicles.field.dept_unit", vehicle.dept_unit or ""),
        ("campus_vehicles.field.status", enum(vehicle.status, "campus_vehicles.status.")),
        ("campus_vehicles.field.reject_reason", vehicle.reject_reason),
        ("campus_vehicles.field.validity", validity_text(vehicle, lang)),
        ("campus_vehicles.field.label_prints", str(vehicle.label_prints)),
        ("field.enabled", display(vehicle.enabled, "enabled", lang, zone)),
        (
            "campus_vehicles.field.submitted_at",
            display(vehicle.submitted_at, "datetime", lang, zone),
        ),
        ("campus_vehicles.field.reviewed_at", display(vehicle.reviewed_at, "datetime", lang, zone)),
        ("campus_vehicles.field.reviewer", vehicle.reviewer),
    ]


@require(VEHICLES_PAGE.view_permission)
async def vehicle_detail(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    vehicle = await service.get_vehicle(principal, _ident(request))
    lang, zone = ui.language_of(request), ui.zone_of(request)
    return ui.render(
        request,
        "campus/vehicles/detail.html",
        {
            "resource": VEHICLES_PAGE,
            "vehicle": vehicle,
            "facts": _facts(vehicle, lang, zone),
            "can_edit": principal.can(VEHICLES_PAGE.edit_permission),
            "can_review": principal.can(REVIEWS_PAGE.edit_permission),
            "crumbs": _crumbs(VEHICLES_PAGE, (vehicle.plate, None)),
        },
    )


@require(VEHICLES_PAGE.edit_permission)
async def unlink_confirm(request: web.Request) -> web.StreamResponse:
    vehicle = await service.get_vehicle(principal_of(request), _ident(request))
    return ui.render(
        request,
        "campus/vehicles/unlink.html",
        {
            "resource": VEHICLES_PAGE,
            "vehicle": vehicle,
            "target": request.path,
            "crumbs": _crumbs(VEHICLES_PAGE, (vehicle.plate, None)),
        },
    )


@require(VEHICLES_PAGE.edit_permission)
async def unlink(request: web.Request) -> web.StreamResponse:
    await service.unlink_vehicle(principal_of(request), _ident(request))
    raise ui.redirect(VEHICLES_PAGE.path, "campus_vehicles.flash.unlinked")


# --- registration review: detail, approve, reject -----------------------------------------------


async def _review_counts(request: web.Request, principal: Principal) -> dict[str, Any]:
    return {"counts": await service.review_counts(principal)}


async def _render_review(
    request: web.Request,
    ident: int,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    principal = principal_of(request)
    vehicle = await service.get_vehicle(principal, ident)
    lang, zone = ui.language_of(request), ui.zone_of(request)
    return ui.render(
        request,
        "campus/vehicles/review.html",
        {
            "resource": REVIEWS_PAGE,
            "vehicle": vehicle,
            "facts": _facts(vehicle, lang, zone),
            "can_review": principal.can(REVIEWS_PAGE.edit_permission)
            and vehicle.status == ReviewStatus.pending,
            "values": dict(values or {}),
            "errors": {k: error_text(v, lang) for k, v in (errors or {}).items()},
            "crumbs": _crumbs(REVIEWS_PAGE, (vehicle.plate, None)),
        },
        status=status,
    )


@require(REVIEWS_PAGE.view_permission)
async def review_detail(request: web.Request) -> web.StreamResponse:
    return await _render_review(request, _ident(request))


async def _decide(
    request: web.Request, model: type[BaseModel], run: Callable[..., Any], flash: str
) -> web.StreamResponse:
    principal = principal_of(request)
    ident = _ident(request)
    await service.get_vehicle(principal, ident)  # another school's id: 404 before the form
    form = await request.post()
    values = {k: str(v) for k, v in form.items() if k != "_csrf"}
    data: dict[str, Any] = {k: v for k, v in values.items() if v.strip()}
    if model is VehicleApprove:
        data["long_term"] = values.get("validity") == "long_term"
        data.pop("validity", None)
        if values.get("validity") != "until":
            data.pop("valid_until", None)
    try:
        await run(principal, ident, model.model_validate(data))
    except ValidationError as exc:
        return await _render_review(
            request, ident, values=values, errors=validation_errors(exc), status=400
        )
    except (Invalid, Conflict) as exc:
        return await _render_review(
            request, ident, values=values, errors={exc.field: exc.message}, status=400
        )
    raise ui.redirect(REVIEWS_PAGE.path, flash)


@require(REVIEWS_PAGE.edit_permission)
async def approve(request: web.Request) -> web.StreamResponse:
    return await _decide(
        request, VehicleApprove, service.approve_vehicle, "campus_vehicles.flash.approved"
    )


@require(REVIEWS_PAGE.edit_permission)
async def reject(request: web.Request) -> web.StreamResponse:
    return await _decide(
        request, VehicleReject, service.reject_vehicle, "campus_vehicles.flash.rejected"
    )


# --- e-bike labels ------------------------------------------------------------------------------


def _ids(values: list[str]) -> list[int]:
    found: list[int] = []
    for value in values:
        for part in value.split(","):
            if part.strip().isdigit() and len(part.strip()) <= 18:
                found.append(int(part))
    return found


@require(LABELS_PAGE.edit_permission)
async def print_labels(request: web.Request) -> web.StreamResponse:
    """Count a print on each chosen e-bike, then show the sheet (a reload shows, not counts)."""
    form = await request.post()
    ids = _ids([str(v) for v in form.getall("ids", [])])
    try:
        printed = await service.print_labels(principal_of(request), ids)
    except Invalid as exc:
        raise ui.redirect(LABELS_PAGE.path, exc.message, "error") from exc
    chosen = ",".join(str(label.id) for label in printed)
    raise web.HTTPSeeOther(f"{LABELS_PAGE.path}/sheet?ids={chosen}")


@require(LABELS_PAGE.view_permission)
async def label_sheet(request: web.Request) -> web.StreamResponse:
    labels = await service.labels(principal_of(request), _ids([request.query.get("ids", "")]))
    lang = ui.language_of(request)
    sheet = [
        {
            "label": label,
            "validity": validity_text(label, lang)
            or i18n.t("campus_vehicles.validity_unset", lang),
            "qr": Markup(segno.make(label.plate, error="m").svg_inline(scale=3, border=2)),
        }
        for label in labels
    ]
    return ui.render(
        request,
        "campus/vehicles/sheet.html",
        {
            "resource": LABELS_PAGE,
            "sheet": sheet,
            "crumbs": _crumbs(LABELS_PAGE, ("ebike_labels.sheet", None)),
        },
    )


# --- wiring -------------------------------------------------------------------------------------


def _not_found(handler: Handler) -> Handler:
    """A service's NotFound as the layout's 404 page (API routes answer JSON themselves)."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except NotFound:
            return render_error(request, 404, "error.not_found")

    return wrapped


def setup(app: web.Application) -> None:
    """Mount this module's pages."""
    router = app.router
    one = "/{id:\\d+}"
    # vehicles (4.3)
    mount_list(app, VEHICLES_PAGE, "campus/vehicles/list.html")
    path = VEHICLES_PAGE.path
    show, save = form_view(VEHICLES_PAGE, "update")
    router.add_get(f"{path}{one}/edit", show, name="campus_vehicles.edit")
    router.add_post(f"{path}{one}/edit", save)
    confirm, act = action_view(VEHICLES_PAGE)
    actions = f"{path}{one}/{{action:(?:enable|disable|delete)}}"
    router.add_get(actions, confirm, name="campus_vehicles.confirm")
    router.add_post(actions, act)
    router.add_get(f"{path}{one}", _not_found(vehicle_detail), name="campus_vehicles.detail")
    router.add_get(f"{path}{one}/unlink", _not_found(unlink_confirm), name="campus_vehicles.unlink")
    router.add_post(f"{path}{one}/unlink", _not_found(unlink))
    # registration review (4.4)
    mount_list(app, REVIEWS_PAGE, "campus/vehicles/reviews.html", _review_counts)
    path = REVIEWS_PAGE.path
    show, save = form_view(REVIEWS_PAGE, "create")
    router.add_get(f"{path}/new", show, name="campus_vehicle_reviews.new")
    router.add_post(f"{path}/new", save)
    router.add_get(f"{path}{one}", _not_found(review_detail), name="campus_vehicle_reviews.detail")
    router.add_post(f"{path}{one}/approve", _not_found(approve))
    router.add_post(f"{path}{one}/reject", _not_found(reject))
    # e-bike labels
    mount_list(app, LABELS_PAGE, "campus/vehicles/labels.html")
    router.add_post(f"{LABELS_PAGE.path}/print", print_labels, name="campus_ebike_labels.print")
    router.add_get(f"{LABELS_PAGE.path}/sheet", label_sheet, name="campus_ebike_labels.sheet")
    # gate posters (3.1.2)
    posters.setup(app, list_page(posters.POSTERS_PAGE, "campus/posters/list.html"))
