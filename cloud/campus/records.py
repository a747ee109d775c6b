"""Campus record lists: registrants' passages through the gates (6.1) and visitor appointments
with whether and where the visitor came (6.2). Read-only; every query leads with tenant_id."""

from __future__ import annotations

from collections.abc import Iterable

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from cloud.access.models import AccessRecord
from cloud.auth import Principal
from cloud.campus.models import Appointment, IdentityType, Registrant
from cloud.campus.record_schemas import (
    RegistrantRecordFilter,
    RegistrantRecordOut,
    VisitPassage,
    VisitRecordDetail,
    VisitRecordFilter,
    VisitRecordOut,
    VisitState,
)
from cloud.crud import Crud, Page, PageParams, paginate, where_given, within
from cloud.org.models import Department
from cloud.org.service import get_owned, scoped
from cloud.sites.models import Gate
from protocols.plates import normalize_plate

# As the access records list: "10000+" reads as well as the exact figure and costs far less.
RECORD_COUNT_CAP = 10_000


async def gate_labels(principal: Principal, codes: Iterable[str]) -> dict[str, str]:
    """Gate code -> "campus / gate" for the codes given (a code no gate has any more stays as is)."""
    wanted = sorted({code for code in codes if code})
    if not wanted:
        return {}
    rows = await scoped(Gate, principal).filter(code__in=wanted).select_related("site")
    return {gate.code: f"{gate.site.name} / {gate.name}" for gate in rows}


def _name(related: Department | IdentityType | None) -> str:
    """The name of a related row that may be missing (a nullable foreign key)."""
    return related.name if related is not None else ""


def _dept_unit(registrant: Registrant) -> str:
    department = _name(registrant.department)
    return " / ".join(part for part in (department, registrant.unit) if part)


# --- 6.1 registrants' access records ------------------------------------------------------------


def _registrant_subquery(principal: Principal, f: RegistrantRecordFilter) -> QuerySet[Registrant]:
    query = scoped(Registrant, principal)
    if f.q:
        query = query.filter(
            Q(name__icontains=f.q) | Q(phone__icontains=f.q) | Q(number__icontains=f.q)
        )
    return where_given(query, f, "department_id", "kind")


def _record_out(row: AccessRecord) -> RegistrantRecordOut:
    assert row.registrant_id is not None
    return RegistrantRecordOut(
        id=row.id,
        occurred_at=row.occurred_at,
        registrant_id=row.registrant_id,
        site_name=row.site.name,
        gate=row.gate,
        gate_label=row.gate,
        lane=row.lane,
        direction=row.direction,
        method=row.method,
        verdict=row.verdict,
        plate=row.plate,
    )


async def list_registrant_records(
    principal: Principal, f: RegistrantRecordFilter, params: PageParams
) -> Page[RegistrantRecordOut]:
    """Newest first. Registrant conditions become `registrant_id IN (registrants of this school
    matching them)`, so the (tenant_id, registrant_id, occurred_at) index serves the list."""
    query = scoped(AccessRecord, principal).filter(registrant_id__isnull=False)
    if f.q or f.department_id or f.kind:
        ids = _registrant_subquery(principal, f).values("id")
        query = query.filter(registrant_id__in=Subquery(ids))
    query = where_given(query, f, "gate", "method")
    query = within(query, "occurred_at", f.occurred_from, f.occurred_to)
    page = await paginate(
        query,
        params,
        sorts={"occurred_at": "occurred_at"},
        default_sort="-occurred_at",
        convert=_record_out,
        related=("site",),
        count_cap=RECORD_COUNT_CAP,
    )
    people = {
        r.id: r
        for r in await scoped(Registrant, principal)
        .filter(id__in={item.registrant_id for item in page.items})
        .select_related("identity_type", "department")
    }
    labels = await gate_labels(principal, (item.gate for item in page.items))
    items = []
    for item in page.items:
        person = people.get(item.registrant_id)
        update: dict[str, object] = {"gate_label": labels.get(item.gate, item.gate)}
        if person is not None:
            update |= {
                "name": person.name,
                "phone": person.phone,
                "kind": person.kind,
                "identity_type_name": _name(person.identity_type),
                "number": person.number,
                "dept_unit": _dept_unit(person),
            }
        items.append(item.model_copy(update=update))
    return page.model_copy(update={"items": items})


# --- 6.2 visitor appointment records -----------------------------------------------------------


def _visit_out(row: Appointment) -> VisitRecordOut:
    host = row.host
    names = row.companion_names.strip()
    return VisitRecordOut(
        id=row.id,
        visitor_name=row.visitor_name,
        visitor_phone=row.visitor_phone,
        companions=row.companions,
        companion_names=row.companion_names,
        companions_text=f"{row.companions} ({names})" if names else str(row.companions),
        host_id=row.host_id,
        host_name=host.name,
        host_phone=host.phone,
        host_department=_name(host.department),
        origin=row.origin,
        reason=row.reason,
        transport=row.transport,
        plate=row.plate,
        visit_date=row.visit_date,
        slot=row.slot,
        window_start=row.window_start,
        window_end=row.window_end,
        status=row.status,
        reject_reason=row.reject_reason,
        decided_at=row.decided_at,
        visit_state=VisitState.visited if row.visited_at else VisitState.not_visited,
        visited_at=row.visited_at,
        visited_gate=row.visited_gate,
        gate_label=row.visited_gate,
        visited_method=row.visited_method,
        created_at=row.created_at,
    )


def _visits(principal: Principal, f: VisitRecordFilter) -> QuerySet[Appointment]:
    query = scoped(Appointment, principal)
    if f.q:
        hosts = scoped(Registrant, principal).filter(name__icontains=f.q).values("id")
        query = query.filter(
            Q(plate__contains=normalize_plate(f.q) or f.q)
            | Q(visitor_name__icontains=f.q)
            | Q(host_id__in=Subquery(hosts))
        )
    if f.date_from is not None:
        query = query.filter(visit_date__gte=f.date_from)
    if f.date_to is not None:
        query = query.filter(visit_date__lte=f.date_to)
    query = where_given(query, f, "status", "origin")
    if f.visit_state == VisitState.visited:
        query = query.filter(visited_at__isnull=False)
    elif f.visit_state == VisitState.not_visited:
        query = query.filter(visited_at__isnull=True)
    if f.department_id:
        hosts = scoped(Registrant, principal).filter(department_id=f.department_id).values("id")
        query = query.filter(host_id__in=Subquery(hosts))
    if f.gate:
        query = query.filter(visited_gate=f.gate)
    if f.method:
        query = query.filter(visited_method=f.method.value)
    return query


async def list_visits(
    principal: Principal, f: VisitRecordFilter, params: PageParams
) -> Page[VisitRecordOut]:
    """Latest visit date first (the (tenant_id, visit_date) index), then the slot's start."""
    page = await paginate(
        _visits(principal, f),
        params,
        sorts={"visit_date": "visit_date", "visited_at": "visited_at", "created_at": "created_at"},
        default_sort="-visit_date",
        convert=_visit_out,
        related=("host", "host__department"),
        count_cap=RECORD_COUNT_CAP,
    )
    labels = await gate_labels(principal, (item.visited_gate for item in page.items))
    items = [
        item.model_copy(update={"gate_label": labels.get(item.visited_gate, item.visited_gate)})
        for item in page.items
    ]
    return page.model_copy(update={"items": items})


def _mask(id_card: str) -> str:
    return "*" * max(0, len(id_card) - 4) + id_card[-4:] if id_card else ""


async def get_visit(principal: Principal, ident: int) -> VisitRecordDetail:
    """One appointment with every passage its visitor made (access records naming it)."""
    row = await get_owned(Appointment, principal, ident, "appointment")
    await row.fetch_related("host", "host__department")
    out = _visit_out(row)
    records = (
        await scoped(AccessRecord, principal)
        .filter(appointment_id=row.id)
        .order_by("occurred_at", "id")
        .limit(200)
    )
    labels = await gate_labels(principal, [out.visited_gate, *(record.gate for record in records)])
    passages = [
        VisitPassage(
            occurred_at=record.occurred_at,
            gate_label=labels.get(record.gate, record.gate),
            lane=record.lane,
            direction=record.direction,
            method=record.method,
            verdict=record.verdict,
            plate=record.plate,
        )
        for record in records
    ]
    return VisitRecordDetail(
        **out.model_dump(exclude={"gate_label"}),
        gate_label=labels.get(out.visited_gate, out.visited_gate),
        visitor_id_card=_mask(row.visitor_id_card),
        passages=passages,
    )


REGISTRANT_RECORDS = Crud(list=list_registrant_records)
VISIT_RECORDS = Crud(list=list_visits, get=get_visit)
