"""Dynamic passes shown on phones: a registrant's pass (60 s, re-issued every 30 s) and a visitor's
pass (the appointment's window), signed with the school's key, drawn as QR codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import segno

from cloud.campus.keys import signing_key
from cloud.campus.models import IN_FORCE, Appointment, Registrant, RegistrantRule
from cloud.errors import ServiceError
from cloud.sites.models import Gate
from protocols.passes import REGISTRANT_MAX_LIFETIME_S, issue, registrant_pass, visitor_pass

MAX_QR_VERSION = 10  # what the gate's reader is sized for (protocols.passes: v10 at M)
REFRESH_S = 30  # a registrant's page fetches a fresh pass this often (each lives 60 s)


class PassUnavailable(ServiceError):
    """No pass can be shown now; `key` is a translation key, `params` fill it in."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def _now() -> datetime:
    return datetime.now(UTC)


async def registrant_token(registrant: Registrant, gate: Gate, now: datetime | None = None) -> str:
    """A 60-second pass for `gate`; refused when disabled or without a rule for the gate."""
    if registrant.tenant_id != gate.tenant_id:
        raise PassUnavailable("pass.error.unknown_gate")
    if not registrant.enabled:
        raise PassUnavailable("pass.error.disabled")
    rules = await RegistrantRule.filter(registrant_id=registrant.id, site_id=gate.site_id)
    if not any(not rule.gates or gate.code in rule.gates for rule in rules):
        raise PassUnavailable("pass.error.no_rule")
    kid, key = await signing_key(registrant.tenant_id)
    moment = int((now or _now()).timestamp())
    claims = registrant_pass(str(registrant.id), (gate.code,), moment, REGISTRANT_MAX_LIFETIME_S)
    return issue(key, kid, claims)


async def visitor_token(appointment: Appointment, gate: Gate, now: datetime | None = None) -> str:
    """A pass for `gate` valid over the appointment's window, only while that window is open."""
    now = now or _now()
    if appointment.tenant_id != gate.tenant_id:
        raise PassUnavailable("pass.error.unknown_gate")
    if appointment.status not in IN_FORCE:
        raise PassUnavailable("pass.error.not_in_force")
    if appointment.site_id is not None and appointment.site_id != gate.site_id:
        raise PassUnavailable("pass.error.other_campus")
    if now < appointment.window_start:
        raise PassUnavailable("pass.error.not_yet_valid")
    if now >= appointment.window_end:
        raise PassUnavailable("pass.error.expired")
    kid, key = await signing_key(appointment.tenant_id)
    claims = visitor_pass(
        str(appointment.id),
        (gate.code,),
        int(appointment.window_start.timestamp()),
        int(appointment.window_end.timestamp()),
    )
    return issue(key, kid, claims)


def qr_data_uri(token: str) -> str:
    """The token as a PNG QR code (error correction M, version 10 at most) in a data: URI."""
    code = segno.make(token, error="m", micro=False, boost_error=False)
    if (
        not isinstance(code.version, int) or code.version > MAX_QR_VERSION
    ):  # protocols.passes.issue keeps tokens within v10
        raise ValueError(f"pass QR code is version {code.version}, above {MAX_QR_VERSION}")
    return str(code.png_data_uri(scale=5, border=4))
