"""The pass page a gate's QR poster opens (/m/{tenant}/gate/{gate}) and its token endpoint.

A registrant sees a dynamic pass re-issued every 30 s (vanilla JS fetching ``token``; a meta
refresh does the same without JS). A visitor sees the visitor pass of the appointment in force
whose window is open now, else a message saying when it opens or that it is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from aiohttp import web

from cloud.campus import visits
from cloud.campus.mobile.session import Mobile, error_text, go, mobile, render
from cloud.campus.models import IN_FORCE, Appointment
from cloud.campus.passes import (
    REFRESH_S,
    PassUnavailable,
    qr_data_uri,
    registrant_token,
    visitor_token,
)
from cloud.sites.models import Gate


@dataclass(frozen=True)
class Shown:
    token: str
    kind: str  # registrant | visitor
    valid_until: datetime | None = None
    appointment: Appointment | None = None


async def _gate(m: Mobile, request: web.Request) -> Gate | None:
    return await Gate.get_or_none(
        tenant_id=m.tenant.id, code=request.match_info["gate"], enabled=True
    ).select_related("site")


async def _visitor_appointment(m: Mobile, gate: Gate, now: datetime) -> Appointment:
    """The appointment whose pass this gate shows now, or PassUnavailable saying why not."""
    assert m.visitor is not None
    rows = [
        row
        for row in await Appointment.filter(
            visits.of_visitor(m.tenant.id, m.visitor.phone, m.visitor.id),
            status__in=IN_FORCE,
        ).order_by("window_start", "id")
        if row.site_id is None or row.site_id == gate.site_id
    ]
    for row in rows:
        if row.window_start <= now < row.window_end:
            return row
    upcoming = [row for row in rows if row.window_start > now]
    if upcoming:
        opens = upcoming[0].window_start.astimezone(m.settings_zone).strftime("%m-%d %H:%M")
        raise PassUnavailable("pass.error.not_yet_valid_at", start=opens)
    if rows:
        raise PassUnavailable("pass.error.expired")
    raise PassUnavailable("pass.error.no_appointment")


async def _issue(m: Mobile, gate: Gate) -> Shown:
    now = datetime.now(UTC)
    if m.registrant is not None:
        return Shown(await registrant_token(m.registrant, gate, now), "registrant")
    appointment = await _visitor_appointment(m, gate, now)
    token = await visitor_token(appointment, gate, now)
    return Shown(token, "visitor", appointment.window_end, appointment)


@mobile()
async def pass_page(request: web.Request, m: Mobile) -> web.StreamResponse:
    """The pass for this gate; a phone not signed in signs in first and comes back here."""
    gate = await _gate(m, request)
    if gate is None:
        return render(
            request,
            m,
            "mobile/message.html",
            {"title": "m.pass.title", "text": "pass.error.unknown_gate", "level": "error"},
            status=404,
        )
    if m.registrant is None and m.visitor is None:
        return go(f"{m.base}/?next={quote(request.path)}")
    context: dict[str, object] = {
        "gate": gate,
        "title": "m.pass.title",
        "back": f"{m.base}/home" if m.registrant else f"{m.base}/visits",
        "shown": None,
        "qr": "",
        "error": "",
        "refresh": 0,
        "refresh_s": REFRESH_S,
    }
    try:
        shown = await _issue(m, gate)
    except PassUnavailable as exc:
        context["error"] = error_text(request, exc.key, exc.params)
        return render(request, m, "mobile/pass.html", context, status=403)
    context.update(
        shown=shown,
        qr=qr_data_uri(shown.token),
        refresh=REFRESH_S if shown.kind == "registrant" else 0,
    )
    response = render(request, m, "mobile/pass.html", context)
    response.headers["Cache-Control"] = "no-store"
    return response


@mobile()
async def pass_token(request: web.Request, m: Mobile) -> web.StreamResponse:
    """A fresh pass for the page's script: JSON {token, qr, refresh_s} or {error} with 4xx."""
    headers = {"Cache-Control": "no-store"}
    gate = await _gate(m, request)
    if gate is None:
        return web.json_response({"error": "unknown gate"}, status=404, headers=headers)
    if m.registrant is None and m.visitor is None:
        return web.json_response(
            {"error": error_text(request, "m.error.signed_out")}, status=401, headers=headers
        )
    try:
        shown = await _issue(m, gate)
    except PassUnavailable as exc:
        return web.json_response(
            {"error": error_text(request, exc.key, exc.params)}, status=403, headers=headers
        )
    return web.json_response(
        {"token": shown.token, "qr": qr_data_uri(shown.token), "refresh_s": REFRESH_S},
        headers=headers,
    )


def setup(app: web.Application) -> None:
    app.router.add_get("/m/{tenant}/gate/{gate}", pass_page)
    app.router.add_get("/m/{tenant}/gate/{gate}/token", pass_token)
