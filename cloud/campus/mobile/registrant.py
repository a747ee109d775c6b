"""Mobile pages of registrants: landing, sign-in by identity, home, phone binding, vehicles, rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from tortoise.exceptions import IntegrityError

from cloud.campus.mobile.session import (
    Mobile,
    error_text,
    go,
    mobile,
    render,
    safe_next,
    sign_in,
    sign_out,
)
from cloud.campus.models import (
    Appointment,
    AppointmentOrigin,
    AppointmentStatus,
    IdentityKind,
    IdentitySetting,
    OwnerRelation,
    Registrant,
    RegistrantRule,
    ReviewStatus,
    Vehicle,
    VehicleKind,
)
from cloud.errors import Invalid
from cloud.notify import service as notify
from cloud.org.models import LoginFailure
from cloud.sites.models import Site
from protocols.plates import is_valid_plate, normalize_plate

SIGNIN_FAILURES = 5  # wrong number/ID tail pairs per number within the window, then a pause
SIGNIN_WINDOW = timedelta(minutes=15)
PHONE_PURPOSE = "bind_phone"


def text(form: Any, name: str) -> str:
    return str(form.get(name, "")).strip()


async def open_kinds(tenant_id: int) -> list[IdentityKind]:
    """The identities the school opened (teacher always; a kind without a setting row is open)."""
    closed = set(
        await IdentitySetting.filter(tenant_id=tenant_id, enabled=False).values_list(
            "kind", flat=True
        )
    )
    return [k for k in IdentityKind if k is IdentityKind.teacher or k not in closed]


@mobile()
async def landing(request: web.Request, m: Mobile) -> web.StreamResponse:
    """Choose an identity, or "I am a visitor"; a signed-in phone goes straight to its home."""
    next_url = request.query.get("next", "")
    if m.registrant is not None or m.visitor is not None:
        home = f"{m.base}/home" if m.registrant is not None else f"{m.base}/visits"
        return go(safe_next(m, next_url, home))
    return render(
        request,
        m,
        "mobile/landing.html",
        {"kinds": await open_kinds(m.tenant.id), "next": safe_next(m, next_url, "")},
    )


@mobile()
async def signin(request: web.Request, m: Mobile) -> web.StreamResponse:
    """Registrant sign-in: student/staff number and the last six characters of the ID card."""
    kind_raw = request.match_info["kind"]
    kinds = await open_kinds(m.tenant.id)
    if kind_raw not in [k.value for k in kinds]:
        return go(f"{m.base}/", "m.error.kind_closed", "error")
    kind = IdentityKind(kind_raw)
    next_url = safe_next(m, request.query.get("next", ""), "")
    values = {"number": "", "id_tail": ""}
    error = ""
    if request.method == "POST":
        form = await request.post()
        values = {"number": text(form, "number"), "id_tail": text(form, "id_tail").upper()}
        next_url = safe_next(m, text(form, "next"), "")
        key = f"m:{m.tenant.id}:{kind.value}:{values['number']}"
        since = datetime.now(UTC) - SIGNIN_WINDOW
        registrant = None
        if not values["number"] or not values["id_tail"]:
            error = "m.signin.missing"
        elif await LoginFailure.filter(key=key, at__gte=since).count() >= SIGNIN_FAILURES:
            error = "m.signin.throttled"
        else:
            registrant = await Registrant.get_or_none(
                tenant_id=m.tenant.id, kind=kind, number=values["number"]
            )
            if registrant is None or registrant.id_card_tail.upper() != values["id_tail"]:
                await LoginFailure.create(key=key)
                error = "m.signin.wrong"
                registrant = None
            elif not registrant.enabled:
                error = "m.signin.disabled"
                registrant = None
        if registrant is not None:
            await LoginFailure.filter(key=key).delete()
            if registrant.bound_at is None:
                registrant.bound_at = datetime.now(UTC)
                await registrant.save(update_fields=["bound_at"])
            response = go(next_url or f"{m.base}/home")
            await sign_in(request, m, response, registrant=registrant)
            return response
    return render(
        request,
        m,
        "mobile/signin.html",
        {
            "kind": kind,
            "values": values,
            "error": error,
            "next": next_url,
            "title": f"m.kind.{kind.value}",
            "back": f"{m.base}/",
        },
        status=400 if error else 200,
    )


@mobile("signed_in")
async def signout(request: web.Request, m: Mobile) -> web.StreamResponse:
    response = go(f"{m.base}/", "m.signed_out")
    await sign_out(m, response)
    return response


@mobile("signed_in")
async def home(request: web.Request, m: Mobile) -> web.StreamResponse:
    """The registrant's home: vehicles, rules, phone, and the host's visitor pages."""
    if m.registrant is None:
        return go(f"{m.base}/visits")
    pending = 0
    if m.is_host:
        pending = await Appointment.filter(
            tenant_id=m.tenant.id,
            host_id=m.registrant.id,
            origin=AppointmentOrigin.request,
            status=AppointmentStatus.pending,
        ).count()
    return render(
        request, m, "mobile/home.html", {"me": m.registrant, "pending": pending, "title": ""}
    )


@mobile("registrant")
async def phone(request: web.Request, m: Mobile) -> web.StreamResponse:
    """Bind the registrant's phone with an SMS code."""
    assert m.registrant is not None
    values = {"phone": m.registrant.phone, "code": ""}
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = await request.post()
        values = {"phone": text(form, "phone"), "code": text(form, "code")}
        try:
            if text(form, "action") == "send":
                await notify.send_code(m.tenant.id, values["phone"], PHONE_PURPOSE, m.tenant.name)
                return render(
                    request,
                    m,
                    "mobile/phone.html",
                    {"values": values, "errors": {}, "sent": True, "title": "m.phone.title"},
                )
            number = await notify.check_code(
                m.tenant.id, values["phone"], PHONE_PURPOSE, values["code"]
            )
            m.registrant.phone = number
            m.registrant.phone_verified_at = datetime.now(UTC)
            await m.registrant.save(update_fields=["phone", "phone_verified_at"])
            return go(f"{m.base}/home", "m.phone.bound")
        except notify.CodeRefused as exc:
            errors[exc.field] = error_text(request, exc.message, exc.params)
            status = 400
    return render(
        request,
        m,
        "mobile/phone.html",
        {
            "values": values,
            "errors": errors,
            "sent": False,
            "title": "m.phone.title",
            "back": f"{m.base}/home",
        },
        status=status,
    )


@mobile("registrant")
async def vehicles(request: web.Request, m: Mobile) -> web.StreamResponse:
    """My registration applications and their review status."""
    assert m.registrant is not None
    rows = await Vehicle.filter(tenant_id=m.tenant.id, registrant_id=m.registrant.id).order_by(
        "-submitted_at", "-id"
    )
    return render(
        request,
        m,
        "mobile/vehicles.html",
        {"rows": rows, "title": "m.vehicles.title", "back": f"{m.base}/home"},
    )


def _vehicle_plate(kind: VehicleKind, raw: str) -> str:
    if kind is VehicleKind.motor:
        plate = normalize_plate(raw)
        if not plate:
            raise Invalid("plate", "error.required")
        if not is_valid_plate(plate):
            raise Invalid("plate", "error.plate_invalid")
        return plate
    # An e-bike is known by its plate or, without one, its frame number.
    plate = normalize_plate(raw)
    if not plate:
        raise Invalid("plate", "error.required")
    if len(plate) > 16:
        raise Invalid("plate", "m.vehicles.frame_invalid")
    return plate


@mobile("registrant")
async def vehicle_new(request: web.Request, m: Mobile) -> web.StreamResponse:
    """Apply to register a motor vehicle or an e-bike (pending until the school reviews it)."""
    assert m.registrant is not None
    kind_raw = request.query.get("kind", VehicleKind.motor.value)
    values = {
        "kind": kind_raw if kind_raw in [k.value for k in VehicleKind] else "motor",
        "plate": "",
        "owner_name": m.registrant.name,
        "relation": OwnerRelation.self.value,
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = await request.post()
        values = {name: text(form, name) for name in values}
        try:
            if values["kind"] not in [k.value for k in VehicleKind]:
                raise Invalid("kind", "error.invalid")
            if values["relation"] not in [r.value for r in OwnerRelation]:
                raise Invalid("relation", "error.invalid")
            kind = VehicleKind(values["kind"])
            plate = _vehicle_plate(kind, values["plate"])
            owner = values["owner_name"]
            if not owner or len(owner) > 64:
                raise Invalid("owner_name", "error.required")
            try:
                await Vehicle.create(
                    tenant_id=m.tenant.id,
                    registrant=m.registrant,
                    kind=kind,
                    plate=plate,
                    owner_name=owner,
                    relation=OwnerRelation(values["relation"]),
                    status=ReviewStatus.pending,
                )
            except IntegrityError:
                raise Invalid("plate", "m.vehicles.taken") from None
            return go(f"{m.base}/vehicles", "m.vehicles.submitted")
        except Invalid as exc:
            errors[exc.field] = error_text(request, exc.message)
    return render(
        request,
        m,
        "mobile/vehicle_new.html",
        {
            "values": values,
            "errors": errors,
            "kinds": list(VehicleKind),
            "relations": list(OwnerRelation),
            "title": "m.vehicles.new",
            "back": f"{m.base}/vehicles",
        },
        status=400 if errors else 200,
    )


@mobile("registrant")
async def rules(request: web.Request, m: Mobile) -> web.StreamResponse:
    """The gates of each campus the registrant may pass, on which days and hours."""
    assert m.registrant is not None
    rows = await RegistrantRule.filter(registrant_id=m.registrant.id).order_by("site_id", "id")
    sites = {
        s.id: s.name
        for s in await Site.filter(tenant_id=m.tenant.id, id__in=[r.site_id for r in rows])
    }
    return render(
        request,
        m,
        "mobile/rules.html",
        {"rows": rows, "sites": sites, "title": "m.rules.title", "back": f"{m.base}/home"},
    )


def setup(app: web.Application) -> None:
    router = app.router
    router.add_get("/m/{tenant}/", landing)
    router.add_get("/m/{tenant}/signin/{kind}", signin)
    router.add_post("/m/{tenant}/signin/{kind}", signin)
    router.add_post("/m/{tenant}/signout", signout)
    router.add_get("/m/{tenant}/home", home)
    router.add_get("/m/{tenant}/phone", phone)
    router.add_post("/m/{tenant}/phone", phone)
    router.add_get("/m/{tenant}/vehicles", vehicles)
    router.add_get("/m/{tenant}/vehicles/new", vehicle_new)
    router.add_post("/m/{tenant}/vehicles/new", vehicle_new)
    router.add_get("/m/{tenant}/rules", rules)
