"""Mobile visit pages: visitors (sign-in by SMS code, profile, requests, invitations) and hosts
(requests received, invitations sent, new invitation). The rules live in cloud.campus.visits."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web

from cloud.campus import visits
from cloud.campus.mobile.registrant import text
from cloud.campus.mobile.session import Mobile, error_text, go, mobile, render, safe_next, sign_in
from cloud.campus.models import (
    Appointment,
    AppointmentOrigin,
    AppointmentStatus,
    Registrant,
    Slot,
    Visitor,
)
from cloud.errors import Invalid, NotFound, ServiceError
from cloud.notify import service as notify

VISITOR_PURPOSE = "visitor_signin"
FORM_FIELDS = (
    "visit_date",
    "slot",
    "reason",
    "visitor_name",
    "visitor_phone",
    "visitor_id_card",
    "transport",
    "plate",
    "companions",
    "companion_names",
)
TRANSPORTS = ("walk", "car", "ebike", "bus", "other")


def _details(values: dict[str, str]) -> visits.VisitDetails:
    """Visit details from form text; a bad date, slot or count names its field."""
    try:
        day = date.fromisoformat(values["visit_date"])
    except ValueError:
        raise Invalid("visit_date", "error.required") from None
    if values["slot"] not in [s.value for s in Slot]:
        raise Invalid("slot", "error.required")
    try:
        companions = int(values["companions"] or "0")
    except ValueError:
        raise Invalid("companions", "visits.error.companions") from None
    return visits.VisitDetails(
        visit_date=day,
        slot=Slot(values["slot"]),
        reason=values["reason"],
        visitor_name=values["visitor_name"],
        visitor_phone=values["visitor_phone"],
        visitor_id_card=values["visitor_id_card"],
        transport=values["transport"],
        plate=values["plate"],
        companions=companions,
        companion_names=values["companion_names"],
    )


def _form_context(m: Mobile) -> dict[str, Any]:
    today = visits.today_in(m.settings_zone)
    return {
        "slots": list(Slot),
        "transports": TRANSPORTS,
        "min_date": today.isoformat(),
        "max_date": (today + timedelta(days=visits.MAX_DAYS_AHEAD)).isoformat(),
    }


def _clash_list(clashes: list[Appointment]) -> list[dict[str, Any]]:
    return [
        {
            "date": row.visit_date.isoformat(),
            "slot": row.slot.value,
            "host": row.host.name,
            "reason": row.reason,
        }
        for row in clashes
    ]


# --- visitors --------------------------------------------------------------------------------


@mobile()
async def visitor_signin(request: web.Request, m: Mobile) -> web.StreamResponse:
    """A visitor signs in with their phone and an SMS code; the first time creates the visitor."""
    next_url = safe_next(m, request.query.get("next", ""), "")
    values = {"phone": "", "code": ""}
    errors: dict[str, str] = {}
    sent = False
    if request.method == "POST":
        form = await request.post()
        values = {"phone": text(form, "phone"), "code": text(form, "code")}
        next_url = safe_next(m, text(form, "next"), "")
        try:
            if text(form, "action") == "send":
                await notify.send_code(m.tenant.id, values["phone"], VISITOR_PURPOSE, m.tenant.name)
                sent = True
            else:
                phone = await notify.check_code(
                    m.tenant.id, values["phone"], VISITOR_PURPOSE, values["code"]
                )
                visitor, _ = await Visitor.get_or_create(tenant_id=m.tenant.id, phone=phone)
                # Invitations made out to this phone before the visitor ever signed in.
                await Appointment.filter(
                    tenant_id=m.tenant.id, visitor_phone=phone, visitor_id__isnull=True
                ).update(visitor_id=visitor.id)
                response = go(next_url or f"{m.base}/visits")
                await sign_in(request, m, response, visitor=visitor)
                return response
        except notify.CodeRefused as exc:
            errors[exc.field] = error_text(request, exc.message, exc.params)
    return render(
        request,
        m,
        "mobile/visitor_signin.html",
        {
            "values": values,
            "errors": errors,
            "sent": sent,
            "next": next_url,
            "title": "m.visitor.signin",
            "back": f"{m.base}/",
        },
        status=400 if errors else 200,
    )


@mobile("visitor")
async def profile(request: web.Request, m: Mobile) -> web.StreamResponse:
    """The visitor's own details, filled into every request."""
    assert m.visitor is not None
    values = {"name": m.visitor.name, "id_card": m.visitor.id_card}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = await request.post()
        values = {"name": text(form, "name"), "id_card": text(form, "id_card")}
        try:
            if not values["name"] or len(values["name"]) > 64:
                raise Invalid("name", "error.required")
            card = visits.check_id_card(values["id_card"], required=False)
            m.visitor.name, m.visitor.id_card = values["name"], card
            await m.visitor.save(update_fields=["name", "id_card"])
            return go(f"{m.base}/visits", "flash.saved")
        except Invalid as exc:
            errors["id_card" if exc.field == "visitor_id_card" else exc.field] = error_text(
                request, exc.message
            )
    return render(
        request,
        m,
        "mobile/profile.html",
        {
            "values": values,
            "errors": errors,
            "title": "m.profile.title",
            "back": f"{m.base}/visits",
        },
        status=400 if errors else 200,
    )


@mobile("visitor")
async def my_visits(request: web.Request, m: Mobile) -> web.StreamResponse:
    """Two tabs: the visits I asked for, and the invitations I received."""
    assert m.visitor is not None
    tab = "invited" if request.query.get("tab") == "invited" else "requested"
    origin = AppointmentOrigin.invitation if tab == "invited" else AppointmentOrigin.request
    rows = await visits.visits_of(m.visitor, origin)
    return render(
        request,
        m,
        "mobile/visits.html",
        {"rows": rows, "tab": tab, "title": "m.visits.title"},
    )


@mobile("visitor")
async def visit_new(request: web.Request, m: Mobile) -> web.StreamResponse:
    """Ask for a visit: find the host by name or phone, then the day, slot, reason and details."""
    assert m.visitor is not None
    query = request.query.get("q", "").strip()
    values = {name: "" for name in FORM_FIELDS}
    values.update(
        visitor_name=m.visitor.name,
        visitor_phone=m.visitor.phone,
        visitor_id_card=m.visitor.id_card,
        visit_date=visits.today_in(m.settings_zone).isoformat(),
        slot=Slot.morning.value,
        companions="0",
        host_id=request.query.get("host_id", ""),
    )
    errors: dict[str, str] = {}
    clashes: list[dict[str, Any]] = []
    commitments = False
    if request.method == "POST":
        form = await request.post()
        values = {name: text(form, name) for name in (*FORM_FIELDS, "host_id")}
        values["visitor_phone"] = m.visitor.phone
        commitments = "commitments" in form
        try:
            if not values["host_id"].isdigit():
                raise Invalid("host_id", "visits.error.host")
            await visits.request_visit(
                m.visitor,
                int(values["host_id"]),
                _details(values),
                commitments=commitments,
                confirm_overlap=text(form, "confirm_overlap") == "1",
                zone=m.settings_zone,
            )
            return go(f"{m.base}/visits", "m.visits.requested_ok")
        except visits.OverlapWarning as warning:
            clashes = _clash_list(warning.clashes)
        except ServiceError as exc:
            errors[getattr(exc, "field", "__all__")] = error_text(
                request, getattr(exc, "message", "error.invalid")
            )
    hosts = await visits.search_hosts(m.tenant.id, query) if query else []
    chosen = None
    if values.get("host_id", "").isdigit():
        chosen = await Registrant.get_or_none(id=int(values["host_id"]), tenant_id=m.tenant.id)
        if chosen is not None and not visits.is_host(chosen):
            chosen = None
    return render(
        request,
        m,
        "mobile/visit_new.html",
        {
            **_form_context(m),
            "values": values,
            "errors": errors,
            "clashes": clashes,
            "commitments": commitments,
            "query": query,
            "hosts": hosts,
            "chosen": chosen,
            "title": "m.visits.new",
            "back": f"{m.base}/visits",
        },
        status=400 if errors else 200,
    )


async def _visit(m: Mobile, request: web.Request) -> Appointment | None:
    assert m.visitor is not None
    try:
        return await visits.visit_of(m.visitor, int(request.match_info["id"]))
    except NotFound:
        return None


@mobile("visitor")
async def visit_detail(request: web.Request, m: Mobile) -> web.StreamResponse:
    """One visit; an open invitation shows the confirmation form."""
    row = await _visit(m, request)
    if row is None:
        return _not_found(request, m)
    assert m.visitor is not None
    values = {
        "visitor_name": row.visitor_name or m.visitor.name,
        "visitor_id_card": row.visitor_id_card or m.visitor.id_card,
        "transport": row.transport,
        "plate": row.plate,
        "companions": str(row.companions),
        "companion_names": row.companion_names,
    }
    return render(
        request,
        m,
        "mobile/visit.html",
        {
            "row": row,
            "values": values,
            "errors": {},
            "transports": TRANSPORTS,
            "title": "m.visits.detail",
            "back": f"{m.base}/visits?tab="
            + ("invited" if row.origin is AppointmentOrigin.invitation else "requested"),
        },
    )


@mobile("visitor")
async def visit_confirm(request: web.Request, m: Mobile) -> web.StreamResponse:
    """Confirm an invitation: complete the missing details and accept the commitments."""
    row = await _visit(m, request)
    if row is None:
        return _not_found(request, m)
    assert m.visitor is not None
    form = await request.post()
    values = {
        name: text(form, name)
        for name in (
            "visitor_name",
            "visitor_id_card",
            "transport",
            "plate",
            "companions",
            "companion_names",
        )
    }
    errors: dict[str, str] = {}
    try:
        try:
            companions = int(values["companions"]) if values["companions"] else None
        except ValueError:
            raise Invalid("companions", "visits.error.companions") from None
        await visits.confirm_invitation(
            m.visitor,
            row.id,
            visits.Completion(
                visitor_name=values["visitor_name"],
                visitor_id_card=values["visitor_id_card"],
                transport=values["transport"],
                plate=values["plate"],
                companions=companions,
                companion_names=values["companion_names"],
                commitments="commitments" in form,
            ),
        )
        return go(f"{m.base}/visits?tab=invited", "m.visits.confirmed")
    except ServiceError as exc:
        errors[getattr(exc, "field", "__all__")] = error_text(
            request, getattr(exc, "message", "error.invalid")
        )
    return render(
        request,
        m,
        "mobile/visit.html",
        {
            "row": row,
            "values": values,
            "errors": errors,
            "transports": TRANSPORTS,
            "title": "m.visits.detail",
            "back": f"{m.base}/visits?tab=invited",
        },
        status=400,
    )


@mobile("visitor")
async def visit_cancel(request: web.Request, m: Mobile) -> web.StreamResponse:
    row = await _visit(m, request)
    if row is None:
        return _not_found(request, m)
    assert m.visitor is not None
    tab = "invited" if row.origin is AppointmentOrigin.invitation else "requested"
    try:
        await visits.cancel_by_visitor(m.visitor, row.id)
    except ServiceError as exc:
        return go(f"{m.base}/visits/{row.id}", getattr(exc, "message", "error.invalid"), "error")
    return go(f"{m.base}/visits?tab={tab}", "m.visits.cancelled")


def _not_found(request: web.Request, m: Mobile) -> web.Response:
    return render(
        request,
        m,
        "mobile/message.html",
        {"title": "error.not_found", "text": "m.error.not_found", "level": "error"},
        status=404,
    )


# --- hosts -----------------------------------------------------------------------------------


@mobile("host")
async def host_requests(request: web.Request, m: Mobile) -> web.StreamResponse:
    """Requests received (我收到的): approve, or reject with a reason."""
    assert m.registrant is not None
    rows = await visits.received_requests(m.registrant)
    return render(
        request,
        m,
        "mobile/host_requests.html",
        {"rows": rows, "title": "m.host.requests", "back": f"{m.base}/home"},
    )


async def _decide(request: web.Request, m: Mobile, approve: bool) -> web.StreamResponse:
    assert m.registrant is not None
    target = f"{m.base}/host/requests"
    try:
        ident = int(request.match_info["id"])
        if approve:
            await visits.approve(m.registrant, ident)
            return go(target, "m.host.approved")
        form = await request.post()
        await visits.reject(m.registrant, ident, text(form, "reject_reason"))
        return go(target, "m.host.rejected")
    except NotFound:
        return _not_found(request, m)
    except ServiceError as exc:
        key = getattr(exc, "message", "error.invalid")
        if key == "error.required":
            key = "m.host.reason_required"
        return go(f"{target}#a{request.match_info['id']}", key, "error")


@mobile("host")
async def host_approve(request: web.Request, m: Mobile) -> web.StreamResponse:
    return await _decide(request, m, True)


@mobile("host")
async def host_reject(request: web.Request, m: Mobile) -> web.StreamResponse:
    return await _decide(request, m, False)


@mobile("host")
async def host_invitations(request: web.Request, m: Mobile) -> web.StreamResponse:
    """Invitations sent (我邀请的)."""
    assert m.registrant is not None
    rows = await visits.sent_invitations(m.registrant)
    return render(
        request,
        m,
        "mobile/host_invitations.html",
        {"rows": rows, "title": "m.host.invitations", "back": f"{m.base}/home"},
    )


@mobile("host")
async def host_invite(request: web.Request, m: Mobile) -> web.StreamResponse:
    """A new invitation; an overlap with the visitor's visits in force asks to confirm."""
    assert m.registrant is not None
    values = {name: "" for name in FORM_FIELDS}
    values.update(
        visit_date=visits.today_in(m.settings_zone).isoformat(),
        slot=Slot.morning.value,
        companions="0",
    )
    errors: dict[str, str] = {}
    clashes: list[dict[str, Any]] = []
    if request.method == "POST":
        form = await request.post()
        values = {name: text(form, name) for name in FORM_FIELDS}
        try:
            await visits.invite(
                m.registrant,
                _details(values),
                confirm_overlap=text(form, "confirm_overlap") == "1",
                link=f"{m.public_url}{m.base}/visits?tab=invited",
                zone=m.settings_zone,
            )
            return go(f"{m.base}/host/invitations", "m.host.invited")
        except visits.OverlapWarning as warning:
            clashes = _clash_list(warning.clashes)
        except ServiceError as exc:
            errors[getattr(exc, "field", "__all__")] = error_text(
                request, getattr(exc, "message", "error.invalid")
            )
    return render(
        request,
        m,
        "mobile/invite.html",
        {
            **_form_context(m),
            "values": values,
            "errors": errors,
            "clashes": clashes,
            "title": "m.host.invite",
            "back": f"{m.base}/host/invitations",
        },
        status=400 if errors else 200,
    )


@mobile("host")
async def host_cancel(request: web.Request, m: Mobile) -> web.StreamResponse:
    assert m.registrant is not None
    try:
        await visits.cancel_invitation(m.registrant, int(request.match_info["id"]))
    except NotFound:
        return _not_found(request, m)
    except ServiceError as exc:
        return go(f"{m.base}/host/invitations", getattr(exc, "message", "error.invalid"), "error")
    return go(f"{m.base}/host/invitations", "m.visits.cancelled")


def status_key(status: AppointmentStatus) -> str:
    return f"m.status.{status.value}"


def setup(app: web.Application) -> None:
    router = app.router
    router.add_get("/m/{tenant}/visitor/signin", visitor_signin)
    router.add_post("/m/{tenant}/visitor/signin", visitor_signin)
    router.add_get("/m/{tenant}/profile", profile)
    router.add_post("/m/{tenant}/profile", profile)
    router.add_get("/m/{tenant}/visits", my_visits)
    router.add_get("/m/{tenant}/visits/new", visit_new)
    router.add_post("/m/{tenant}/visits/new", visit_new)
    router.add_get("/m/{tenant}/visits/{id:\\d+}", visit_detail)
    router.add_post("/m/{tenant}/visits/{id:\\d+}/confirm", visit_confirm)
    router.add_post("/m/{tenant}/visits/{id:\\d+}/cancel", visit_cancel)
    router.add_get("/m/{tenant}/host/requests", host_requests)
    router.add_post("/m/{tenant}/host/requests/{id:\\d+}/approve", host_approve)
    router.add_post("/m/{tenant}/host/requests/{id:\\d+}/reject", host_reject)
    router.add_get("/m/{tenant}/host/invitations", host_invitations)
    router.add_post("/m/{tenant}/host/invitations/{id:\\d+}/cancel", host_cancel)
    router.add_get("/m/{tenant}/host/invite", host_invite)
    router.add_post("/m/{tenant}/host/invite", host_invite)
