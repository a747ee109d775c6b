"""The PDA's mobile pages on localhost: sign-in, berths, actions, arrears, records, shift.

A session cookie (HttpOnly, SameSite=Strict) names a session kept in memory; every POST
carries the session's CSRF token. Only loopback clients are served. Outcomes are shown after
a redirect (post/redirect/get) as one flash message; errors name the problem in words.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from edge.pda.service import ArrearsLine, Outcome, Pda, PdaError, Shift
from edge.pda.texts import translate, yuan

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2] / "dashboards"
TEMPLATES = ROOT / "templates" / "pda"
STATIC = ROOT / "static" / "pda"
COOKIE = "pda_session"
PDA = web.AppKey("pda", Pda)
SESSIONS = web.AppKey("pda_sessions", dict)
NEW_COOKIE = web.RequestKey("pda_new_cookie", str)
MAX_SESSIONS = 64
ACTIONS = ("plate", "arrive", "depart", "collect", "free", "false-alarm", "print")


@dataclass
class WebSession:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    shift: str = ""
    lang: str = "zh"
    flash: list[tuple[str, str]] = field(default_factory=list)  # (level, text)


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
    undefined=jinja2.StrictUndefined,
)


def _session(request: web.Request) -> WebSession:
    sessions: dict[str, WebSession] = request.app[SESSIONS]
    key = request.cookies.get(COOKIE, "")
    found = sessions.get(key)
    if found is None:
        if len(sessions) >= MAX_SESSIONS:
            sessions.pop(next(iter(sessions)))
        key = secrets.token_urlsafe(24)
        found = sessions[key] = WebSession()
        request[NEW_COOKIE] = key
    if request.query.get("lang") in ("zh", "en"):
        found.lang = request.query["lang"]
    return found


def _finish(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    key = request.get(NEW_COOKIE)
    if key:
        response.set_cookie(COOKIE, key, httponly=True, samesite="Strict", path="/pda")
    return response


def render(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    session = _session(request)
    pda = request.app[PDA]

    def t(key: str, **params: Any) -> str:
        return translate(key, session.lang, **params)

    def local(moment: datetime | None, pattern: str = "%m-%d %H:%M") -> str:
        return moment.astimezone(pda.zone).strftime(pattern) if moment else ""

    flash, session.flash = session.flash, []
    html = _env.get_template(name).render(
        t=t,
        yuan=yuan,
        local=local,
        csrf=session.csrf,
        lang=session.lang,
        flash=flash,
        pending=pda.store.outbox_rows,
        device=pda.device,
        **context,
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    _finish(request, response)
    return response


def redirect(request: web.Request, location: str) -> web.StreamResponse:
    return _finish(request, web.Response(status=303, headers={"Location": location}))


async def _form(request: web.Request) -> dict[str, str]:
    """The POST's fields, once its CSRF token matched the session's (else PdaError)."""
    data = await request.post()
    form = {key: str(value) for key, value in data.items() if isinstance(value, str)}
    if not secrets.compare_digest(form.get("_csrf", ""), _session(request).csrf):
        raise PdaError("parking.pda.error.csrf")
    form["_orders"] = ",".join(str(v) for v in data.getall("order", []) if isinstance(v, str))
    return form


def _say(request: web.Request, outcome: Outcome) -> None:
    session = _session(request)
    session.flash.append(("ok", translate(outcome.key, session.lang, **outcome.params)))
    if outcome.printer_error:
        text = translate("parking.pda.error.printer", session.lang, detail=outcome.printer_error)
        session.flash.append(("error", text))


def _complain(request: web.Request, error: PdaError) -> None:
    session = _session(request)
    session.flash.append(("error", translate(error.key, session.lang, **error.params)))


async def _shift(request: web.Request) -> Shift | None:
    session = _session(request)
    if not session.shift:
        return None
    shift = await request.app[PDA].shift(session.shift)
    if shift is None or shift.signed_out_at is not None:
        session.shift = ""
        return None
    return shift


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def local_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The collector's pages are for this device: another host gets a 403."""
    if request.path.startswith("/pda"):
        try:
            loopback = ipaddress.ip_address(request.remote or "").is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            log.warning("PDA page %s refused to %s", request.path, request.remote)
            text = translate("parking.pda.error.forbidden")
            return web.Response(status=403, text=text)
    return await handler(request)


# --- sign-in and shift ----------------------------------------------------------------------------


async def home(request: web.Request) -> web.StreamResponse:
    shift = await _shift(request)
    return redirect(request, "/pda/berths" if shift else "/pda/login")


async def login_page(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    pda = request.app[PDA]
    shifts = await pda.open_shifts()
    return render(
        request,
        "login.html",
        status=status,
        error=error,
        sections=pda.sections(),
        account=request.query.get("account", ""),
        chosen=shifts[0].site if shifts else "",
    )


async def login(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    try:
        form = await _form(request)
        shift = await request.app[PDA].sign_in(
            form.get("account", ""), form.get("password", ""), form.get("site", "")
        )
    except PdaError as exc:
        return await login_page(request, translate(exc.key, session.lang, **exc.params), status=400)
    session.shift = shift.uuid
    return redirect(request, "/pda/berths")


async def shift_page(request: web.Request) -> web.StreamResponse:
    shift = await _shift(request)
    if shift is None:
        return redirect(request, "/pda/login")
    takings = await request.app[PDA].takings(shift)
    return render(request, "shift.html", shift=shift, takings=takings, ended=False)


async def sign_out(request: web.Request) -> web.StreamResponse:
    session = _session(request)
    shift = await _shift(request)
    try:
        await _form(request)
        if shift is None:
            raise PdaError("parking.pda.error.signed_out")
        takings = await request.app[PDA].sign_out(shift)
    except PdaError as exc:
        _complain(request, exc)
        return redirect(request, "/pda/login")
    session.shift = ""
    return render(request, "shift.html", shift=shift, takings=takings, ended=True)


# --- berths ---------------------------------------------------------------------------------------


async def berths_page(request: web.Request) -> web.StreamResponse:
    shift = await _shift(request)
    if shift is None:
        return redirect(request, "/pda/login")
    query = request.query.get("q", "").strip()[:20]
    views = await request.app[PDA].berths(shift.site, query)
    template = "_rows.html" if request.path.endswith("/rows") else "berths.html"
    return render(request, template, shift=shift, berths=views, q=query)


async def berth_page(request: web.Request) -> web.StreamResponse:
    shift = await _shift(request)
    if shift is None:
        return redirect(request, "/pda/login")
    pda = request.app[PDA]
    try:
        view = await pda.berth(shift.site, request.match_info["code"])
    except PdaError as exc:
        _complain(request, exc)
        return redirect(request, "/pda/berths")
    return render(
        request,
        "berth.html",
        shift=shift,
        berth=view,
        arrears=pda.arrears_total(shift.site, view.plate),
    )


async def berth_action(request: web.Request) -> web.StreamResponse:
    shift = await _shift(request)
    code = request.match_info["code"]
    action = request.match_info["action"]
    back = f"/pda/berths/{code}"
    pda = request.app[PDA]
    try:
        form = await _form(request)
        if shift is None:
            raise PdaError("parking.pda.error.signed_out")
        if action == "plate":
            outcome = await pda.set_plate(shift, code, form.get("plate", ""))
        elif action == "arrive":
            outcome = await pda.arrive(shift, code, form.get("plate", ""))
        elif action == "depart":
            outcome = await pda.depart(shift, code)
        elif action == "collect":
            outcome = await pda.collect(shift, code, form.get("method", ""))
        elif action == "free":
            outcome = await pda.free(shift, code, form.get("reason", ""))
        elif action == "false-alarm":
            outcome = await pda.false_alarm(shift, code, form.get("reason", ""))
        elif action == "print":
            outcome = await pda.print_berth(shift, code, form.get("kind", ""))
        else:
            raise web.HTTPNotFound()
    except PdaError as exc:
        _complain(request, exc)
        return redirect(request, back if shift else "/pda/login")
    _say(request, outcome)
    return redirect(request, back)


# --- arrears --------------------------------------------------------------------------------------


async def arrears_page(
    request: web.Request, shift: Shift, confirm: dict[str, Any] | None = None
) -> web.Response:
    pda = request.app[PDA]
    raw = request.query.get("plate", "") if confirm is None else confirm["plate"]
    plate, error = "", ""
    lines: list[ArrearsLine] = []
    if raw.strip():
        try:
            plate, lines = await pda.arrears(shift.site, raw)
        except PdaError as exc:
            error = translate(exc.key, _session(request).lang, **exc.params)
    return render(
        request,
        "arrears.html",
        shift=shift,
        raw=raw,
        plate=plate,
        lines=lines,
        error=error,
        confirm=confirm,
        total=sum(line.amount_fen for line in lines),
    )


async def arrears_get(request: web.Request) -> web.StreamResponse:
    shift = await _shift(request)
    if shift is None:
        return redirect(request, "/pda/login")
    return await arrears_page(request, shift)


async def arrears_collect(request: web.Request) -> web.StreamResponse:
    shift = await _shift(request)
    form: dict[str, str] = {}
    orders: list[str] = []
    try:
        form = await _form(request)
        if shift is None:
            raise PdaError("parking.pda.error.signed_out")
        orders = [order for order in form["_orders"].split(",") if order]
        outcome = await request.app[PDA].collect_arrears(
            shift,
            form.get("plate", ""),
            orders,
            form.get("method", ""),
            form.get("confirmed") == "1",
        )
    except PdaError as exc:
        if exc.key == "parking.pda.error.confirm" and shift is not None:
            return await arrears_page(
                request,
                shift,
                confirm={
                    "plate": form.get("plate", ""),
                    "orders": orders,
                    "method": form.get("method", ""),
                    "fen": exc.params["fen"],
                    "threshold": exc.params["threshold"],
                },
            )
        _complain(request, exc)
        return redirect(request, "/pda/arrears" if shift else "/pda/login")
    _say(request, outcome)
    return redirect(request, f"/pda/arrears?plate={outcome.params['plate']}")


# --- records --------------------------------------------------------------------------------------


async def records_page(request: web.Request) -> web.StreamResponse:
    shift = await _shift(request)
    if shift is None:
        return redirect(request, "/pda/login")
    pda = request.app[PDA]
    return render(
        request,
        "records.html",
        shift=shift,
        receipts=await pda.records(shift),
        payments=await pda.payments(shift),
    )


async def reprint(request: web.Request) -> web.StreamResponse:
    shift = await _shift(request)
    try:
        await _form(request)
        if shift is None:
            raise PdaError("parking.pda.error.signed_out")
        try:
            receipt = int(request.match_info["id"])
        except ValueError:
            raise PdaError("parking.pda.error.unknown_receipt") from None
        outcome = await request.app[PDA].reprint(shift, receipt)
    except PdaError as exc:
        _complain(request, exc)
        return redirect(request, "/pda/records" if shift else "/pda/login")
    _say(request, outcome)
    return redirect(request, "/pda/records")


def add_routes(app: web.Application) -> None:
    app.middlewares.append(local_only)
    app[SESSIONS] = {}
    app.router.add_get("/pda", home)
    app.router.add_get("/pda/login", login_page)
    app.router.add_post("/pda/login", login)
    app.router.add_get("/pda/shift", shift_page)
    app.router.add_post("/pda/signout", sign_out)
    app.router.add_get("/pda/berths", berths_page)
    app.router.add_get("/pda/berths/rows", berths_page)
    app.router.add_get("/pda/berths/{code}", berth_page)
    app.router.add_post("/pda/berths/{code}/{action}", berth_action)
    app.router.add_get("/pda/arrears", arrears_get)
    app.router.add_post("/pda/arrears", arrears_collect)
    app.router.add_get("/pda/records", records_page)
    app.router.add_post("/pda/records/{id}/reprint", reprint)
    app.router.add_static("/pda/static", STATIC)
