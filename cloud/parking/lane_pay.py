"""The lot pages drivers open on their phones: an exit lane's QR poster (/m/{tenant}/lot/{lane}/pay:
the fee the lane holds, paid through the payment channel), an entry lane's no-plate ticket
(/m/{tenant}/lot/{lane}/ticket), the in-lot prepayment (/m/{tenant}/lot/{site}/prepay) and a
payment's outcome (/m/{tenant}/lot/payments/{number}). Rules live in lane_payments.py."""

from __future__ import annotations

from aiohttp import web

from cloud.campus.mobile.session import Mobile, go, mobile, render
from cloud.errors import Invalid
from cloud.parking import lane_payments as service
from cloud.parking import snapshots
from cloud.parking import texts_lane_pay as _texts  # noqa: F401 - registers the texts
from cloud.parking.models import ParkingPaymentState
from cloud.sites.models import CommandState
from protocols.plates import normalize_plate
from protocols.tariffs import yuan

TICKET_COOKIE = "wayside_lot_ticket"
REFRESH_S = 3


def _not_found(request: web.Request, m: Mobile) -> web.Response:
    context = {"title": "parking.lane_pay.title", "text": "parking.lane_pay.no_lane"}
    return render(request, m, "mobile/message.html", {**context, "level": "error"}, status=404)


def _bases(request: web.Request) -> tuple[str, str]:
    origin = str(request.url.origin())
    return origin, origin


@mobile()
async def lane_page(request: web.Request, m: Mobile) -> web.StreamResponse:
    """An exit lane's QR: the plate and fee the lane holds, and a button to pay it."""
    found = await service.lot_lane(m.tenant.id, request.match_info["lane"])
    if found is None or service.is_entry(found[0]):
        return _not_found(request, m)
    lane, site = found
    pending = await service.pending_at(lane, site)
    if request.method == "POST":
        form = await request.post()
        if pending is None or str(form.get("session", "")) != pending.session:
            return go(request.path, "parking.lane_pay.error.changed", "error")
        if pending.owed_fen == 0:
            return go(request.path)
        origin, public = _bases(request)
        payment = await service.create_payment(
            site, pending.session, pending.plate, pending.owed_fen, lane.code, origin, public
        )
        return go(f"{m.base}/lot/payments/{payment.number}")
    context = {
        "title": "parking.lane_pay.title",
        "lane": lane,
        "site": site,
        "pending": pending,
        "yuan": yuan,
        "ticket": request.cookies.get(TICKET_COOKIE, ""),
        "refresh": 0 if pending is not None else REFRESH_S,
    }
    return render(request, m, "parking/pay.html", context)


@mobile()
async def ticket_page(request: web.Request, m: Mobile) -> web.StreamResponse:
    """No plate: at an entry lane take a ticket (the barrier opens), at an exit lane present it
    (the lane assesses its fee; the pay page then shows it)."""
    found = await service.lot_lane(m.tenant.id, request.match_info["lane"])
    if found is None:
        return _not_found(request, m)
    lane, site = found
    held = request.cookies.get(TICKET_COOKIE, "")
    if request.method == "POST":
        form = await request.post()
        if service.is_entry(lane):
            ticket = service.new_ticket()
        else:
            ticket = str(form.get("ticket", "") or held).strip().upper()
            if not ticket:
                return go(request.path, "parking.lane_pay.error.no_ticket", "error")
        command = await service.ticket_command(lane, site, ticket)
        target = f"{request.path}?command={command.id}"
        if not service.is_entry(lane):
            target = f"{m.base}/lot/{lane.code}/pay"
        response = go(target)
        response.set_cookie(
            TICKET_COOKIE, ticket, httponly=True, samesite="Lax", path=m.base, max_age=7 * 86400
        )
        return response
    shown = await service.command_of(m.tenant.id, request.query.get("command", ""))
    waiting = shown is not None and shown.state == CommandState.pending
    context = {
        "title": "parking.lane_pay.ticket.title",
        "lane": lane,
        "site": site,
        "entry": service.is_entry(lane),
        "ticket": held,
        "command": shown,
        "refresh": REFRESH_S if waiting else 0,
    }
    return render(request, m, "parking/pay_ticket.html", context)


@mobile()
async def prepay_page(request: web.Request, m: Mobile) -> web.StreamResponse:
    """In the lot, before driving to the exit: the fee so far of a plate, paid ahead."""
    site = await service.lot_site(m.tenant.id, request.match_info["site"])
    if site is None:
        return _not_found(request, m)
    source = await request.post() if request.method == "POST" else request.query
    plate = normalize_plate(str(source.get("plate", "")))[:16]
    stay = await service.stay_of(site, plate) if plate else None
    if request.method == "POST":
        if stay is None:
            return go(f"{request.path}?plate={plate}", "parking.lane_pay.error.no_stay", "error")
        origin, public = _bases(request)
        try:
            payment = await service.create_payment(
                site, str(stay.order.uuid), plate, stay.owed_fen, "", origin, public
            )
        except Invalid:
            return go(f"{request.path}?plate={plate}", "parking.lane_pay.error.nothing_due")
        return go(f"{m.base}/lot/payments/{payment.number}")
    context = {
        "title": "parking.lane_pay.prepay.title",
        "site": site,
        "plate": plate,
        "stay": stay,
        "searched": bool(plate),
        "yuan": yuan,
    }
    return render(request, m, "parking/pay_prepay.html", context)


@mobile()
async def berth_page(request: web.Request, m: Mobile) -> web.StreamResponse:
    """A berth receipt's QR (printed by the collector's PDA): the stay's fee so far (or what it
    left owing), paid through the payment channel."""
    found = await service.berth_stay(m.tenant.id, request.match_info["session"])
    if found is None:
        return _not_found(request, m)
    site, stay = found
    if request.method == "POST":
        origin, public = _bases(request)
        try:
            payment = await service.create_payment(
                site, str(stay.order.uuid), stay.order.plate, stay.owed_fen, "", origin, public
            )
        except Invalid:
            return go(request.path, "parking.lane_pay.error.nothing_due")
        return go(f"{m.base}/lot/payments/{payment.number}")
    context = {"title": "parking.lane_pay.berth.title", "site": site, "stay": stay, "yuan": yuan}
    return render(request, m, "parking/pay_berth.html", context)


@mobile()
async def payment_page(request: web.Request, m: Mobile) -> web.StreamResponse:
    row = await service.get_payment(m.tenant.id, request.match_info["number"])
    if row is None:
        return _not_found(request, m)
    context = {
        "title": "parking.lane_pay.payment.title",
        "payment": row,
        "yuan": yuan,
        "paid": row.state == ParkingPaymentState.paid,
        "refresh": REFRESH_S if row.state == ParkingPaymentState.created else 0,
    }
    return render(request, m, "parking/pay_status.html", context)


def setup(app: web.Application) -> None:
    """Mount the lot's mobile pages, the lane-payment ingest and the evidence images."""
    service.setup()
    router = app.router
    router.add_get("/m/{tenant}/lot/payments/{number}", payment_page)
    for path, handler in (
        ("/m/{tenant}/lot/{lane}/pay", lane_page),
        ("/m/{tenant}/lot/{lane}/ticket", ticket_page),
        ("/m/{tenant}/lot/{site}/prepay", prepay_page),
        ("/m/{tenant}/berth/pay/{session}", berth_page),
    ):
        router.add_get(path, handler)
        router.add_post(path, handler)
    snapshots.setup(app)
