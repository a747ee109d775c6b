"""Campus record pages: registrants' access records (6.1) and visitor appointment records (6.2)
with each appointment's detail; both filterable, paginated and exported to Excel."""

from __future__ import annotations

from aiohttp import web

from cloud import ui
from cloud.access.service import gate_code_choices
from cloud.auth import principal_of, require
from cloud.campus import records as service
from cloud.campus import texts_vehicles  # noqa: F401 - registers this module's texts
from cloud.campus.models import AppointmentOrigin, AppointmentStatus, IdentityKind
from cloud.campus.record_schemas import RegistrantRecordFilter, VisitRecordFilter, VisitState
from cloud.campus.vehicle_pages import mount_list
from cloud.org.service import department_choices
from cloud.ui import Column, Filter, Resource
from cloud.ui.values import display
from cloud.ui.views import _crumbs
from protocols.events import Method

GROUP = "menu.group.campus"
GATES = ui.service_choices(gate_code_choices)
DEPARTMENTS = ui.service_choices(department_choices)
METHODS = ui.enum_choices(Method, "campus_method.")

REGISTRANT_RECORDS_PAGE = Resource(
    name="campus_registrant_records",
    path="/campus/registrant-records",
    title="reg_records.title",
    group=GROUP,
    view_permission="access.view",
    edit_permission="access.view",
    menu_order=60,
    columns=(
        Column("name", "reg_records.field.name"),
        Column("phone", "reg_records.field.phone"),
        Column(
            "kind",
            "campus_vehicles.field.identity_kind",
            kind="enum",
            prefix="campus_vehicles.identity.",
        ),
        Column("identity_type_name", "campus_vehicles.field.identity_type"),
        Column("number", "campus_vehicles.field.number"),
        Column("dept_unit", "campus_vehicles.field.dept_unit"),
        Column("gate_label", "reg_records.field.gate"),
        Column("method", "reg_records.field.method", kind="enum", prefix="campus_method."),
        Column("occurred_at", "reg_records.field.occurred_at", sort="occurred_at", kind="datetime"),
    ),
    filter_model=RegistrantRecordFilter,
    filters=(
        Filter("q", "field.search", placeholder="reg_records.filter.q"),
        Filter("occurred_from", "field.from", "datetime"),
        Filter("occurred_to", "field.to", "datetime"),
        Filter("department_id", "campus_vehicles.field.department", "select", DEPARTMENTS),
        Filter(
            "kind",
            "campus_vehicles.field.identity_kind",
            "select",
            ui.enum_choices(IdentityKind, "campus_vehicles.identity."),
        ),
        Filter("gate", "reg_records.field.gate", "select", GATES),
        Filter("method", "reg_records.field.method", "select", METHODS),
    ),
    crud=service.REGISTRANT_RECORDS,
)

VISIT_RECORDS_PAGE = Resource(
    name="campus_visit_records",
    path="/campus/visit-records",
    title="visit_records.title",
    group=GROUP,
    view_permission="visits.view",
    edit_permission="visits.view",
    menu_order=70,
    columns=(
        Column("visitor_name", "visit_records.field.visitor", link=True),
        Column("companions_text", "visit_records.field.companions"),
        Column("host_name", "visit_records.field.host"),
        Column("origin", "visit_records.field.origin", kind="enum", prefix="visit_records.origin."),
        Column("host_department", "visit_records.field.host_department"),
        Column("reason", "visit_records.field.reason"),
        Column("transport", "visit_records.field.transport"),
        Column("plate", "visit_records.field.plate"),
        Column("visit_date", "visit_records.field.visit_date", sort="visit_date"),
        Column("slot", "visit_records.field.slot", kind="enum", prefix="visit_records.slot."),
        Column("status", "visit_records.field.status", kind="enum", prefix="visit_records.status."),
        Column(
            "visit_state",
            "visit_records.field.visit_state",
            kind="enum",
            prefix="visit_records.visit_state.",
        ),
        Column("visited_at", "visit_records.field.visited_at", sort="visited_at", kind="datetime"),
        Column("gate_label", "reg_records.field.gate"),
        Column("visited_method", "reg_records.field.method", kind="enum", prefix="campus_method."),
    ),
    filter_model=VisitRecordFilter,
    filters=(
        Filter("q", "field.search", placeholder="visit_records.filter.q"),
        Filter(
            "date_from", "visit_records.field.date_from", placeholder="visit_records.filter.date"
        ),
        Filter("date_to", "visit_records.field.date_to", placeholder="visit_records.filter.date"),
        Filter(
            "status",
            "visit_records.field.status",
            "select",
            ui.enum_choices(AppointmentStatus, "visit_records.status."),
        ),
        Filter(
            "origin",
            "visit_records.field.origin",
            "select",
            ui.enum_choices(AppointmentOrigin, "visit_records.origin."),
        ),
        Filter(
            "visit_state",
            "visit_records.field.visit_state",
            "select",
            ui.enum_choices(VisitState, "visit_records.visit_state."),
        ),
        Filter("department_id", "visit_records.field.host_department", "select", DEPARTMENTS),
        Filter("gate", "reg_records.field.gate", "select", GATES),
        Filter("method", "reg_records.field.method", "select", METHODS),
    ),
    crud=service.VISIT_RECORDS,
    label_of=lambda v: f"{v.visitor_name} {v.visit_date}",
)


@require(VISIT_RECORDS_PAGE.view_permission)
async def visit_detail(request: web.Request) -> web.StreamResponse:
    visit = await service.get_visit(principal_of(request), int(request.match_info["id"]))
    lang, zone = ui.language_of(request), ui.zone_of(request)

    def enum(value: object, prefix: str) -> str:
        return display(value, "enum", lang, zone, prefix)

    def moment(value: object) -> str:
        return display(value, "datetime", lang, zone)

    facts = [
        ("visit_records.field.visitor", visit.visitor_name),
        ("visit_records.field.visitor_phone", visit.visitor_phone),
        ("visit_records.field.id_card", visit.visitor_id_card),
        ("visit_records.field.companions", visit.companions_text),
        ("visit_records.field.host", visit.host_name),
        ("visit_records.field.host_department", visit.host_department),
        ("visit_records.field.origin", enum(visit.origin, "visit_records.origin.")),
        ("visit_records.field.reason", visit.reason),
        ("visit_records.field.transport", visit.transport),
        ("visit_records.field.plate", visit.plate),
        (
            "visit_records.field.appointment_time",
            f"{visit.visit_date} {enum(visit.slot, 'visit_records.slot.')}"
            f" ({moment(visit.window_start)[11:16]}–{moment(visit.window_end)[11:16]})",
        ),
        ("visit_records.field.status", enum(visit.status, "visit_records.status.")),
        ("visit_records.field.reject_reason", visit.reject_reason),
        ("visit_records.field.decided_at", moment(visit.decided_at)),
        ("visit_records.field.visit_state", enum(visit.visit_state, "visit_records.visit_state.")),
        ("visit_records.field.visited_at", moment(visit.visited_at)),
        ("reg_records.field.gate", visit.gate_label),
        ("reg_records.field.method", enum(visit.visited_method, "campus_method.")),
        ("visit_records.field.created_at", moment(visit.created_at)),
    ]
    passages = [
        {
            "at": moment(p.occurred_at),
            "gate": p.gate_label,
            "lane": p.lane,
            "direction": enum(p.direction, "direction."),
            "method": enum(p.method, "campus_method."),
            "verdict": enum(p.verdict, "verdict."),
            "open": p.verdict.value == "open",
            "plate": p.plate,
        }
        for p in visit.passages
    ]
    return ui.render(
        request,
        "campus/records/visit.html",
        {
            "resource": VISIT_RECORDS_PAGE,
            "visit": visit,
            "facts": facts,
            "passages": passages,
            "crumbs": _crumbs(VISIT_RECORDS_PAGE, (VISIT_RECORDS_PAGE.label_of(visit), None)),
        },
    )


def setup(app: web.Application) -> None:
    """Mount this module's pages."""
    ui.mount(app, REGISTRANT_RECORDS_PAGE)
    mount_list(app, VISIT_RECORDS_PAGE, "campus/records/visits.html")
    app.router.add_get(
        f"{VISIT_RECORDS_PAGE.path}/{{id:\\d+}}", visit_detail, name="campus_visit_records.detail"
    )
