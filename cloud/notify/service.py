"""Notifications: message templates, one `Notifier` per channel, SMS verification codes, the outbox.

Every message goes through :func:`notify`: it renders the template's Chinese text, hands the
message to the notifier registered for the template's channel, and stores the message with the
state the notifier answered. The only notifier today is :class:`DevelopmentChannel`, which
delivers nothing and keeps the message *held* in the admin message outbox (消息发件箱). A real
SMS or WeChat gateway is another class with the same ``send`` method, installed with
:func:`use_notifier` (by start-up code or a test), not an ``if`` in the senders.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from tortoise.expressions import F

from cloud import i18n
from cloud.auth import Principal
from cloud.crud import Crud, Page, PageParams, paginate, within
from cloud.errors import Invalid
from cloud.notify import texts as _texts  # noqa: F401  (registers the templates' texts)
from cloud.notify.models import Channel, Message, MessageState, VerificationCode
from cloud.org.schemas import In, Out, UtcDatetime
from cloud.org.service import scoped

# --- notifiers: one per channel -----------------------------------------------------------------


class Notifier(Protocol):
    """Delivers one message on its channel and says what became of it."""

    async def send(self, message: Message) -> MessageState: ...


class DevelopmentChannel:
    """Delivers nothing: the message stays held in the message outbox for a developer to read."""

    async def send(self, message: Message) -> MessageState:
        return MessageState.held


_NOTIFIERS: dict[Channel, Notifier] = {channel: DevelopmentChannel() for channel in Channel}


def use_notifier(channel: Channel, notifier: Notifier) -> Notifier:
    """Install the notifier of a channel; returns the one it replaces (to put back later)."""
    previous = _NOTIFIERS[channel]
    _NOTIFIERS[channel] = notifier
    return previous


def notifier_for(channel: Channel) -> Notifier:
    return _NOTIFIERS[channel]


# --- templates ----------------------------------------------------------------------------------


class Template(StrEnum):
    verification_code = "verification_code"  # to a phone being proved
    visit_request = "visit_request"  # to the host: a visitor asks, please decide
    visit_result = "visit_result"  # to the visitor: approved or rejected
    reception_notice = "reception_notice"  # to the host: a visitor is coming (approved/confirmed)
    invitation = "invitation"  # to the invited visitor
    invitation_confirmed = "invitation_confirmed"  # to the host
    parking_arrears = "parking_arrears"  # to a driver: the plate's unpaid parking fees


@dataclass(frozen=True)
class TemplateSpec:
    channel: Channel
    variant: str = ""  # a param whose value picks the body (visit_result: approved/rejected)
    secret: tuple[str, ...] = ()  # params masked once a real channel has sent the message


TEMPLATES: dict[Template, TemplateSpec] = {
    Template.verification_code: TemplateSpec(Channel.sms, secret=("code",)),
    Template.visit_request: TemplateSpec(Channel.wechat),
    Template.visit_result: TemplateSpec(Channel.wechat, variant="outcome"),
    Template.reception_notice: TemplateSpec(Channel.wechat),
    Template.invitation: TemplateSpec(Channel.sms),
    Template.invitation_confirmed: TemplateSpec(Channel.wechat),
    Template.parking_arrears: TemplateSpec(Channel.sms),
}
MASK = "******"


def render_body(template: Template, params: Mapping[str, Any]) -> str:
    """The Chinese text of a message (phones get Chinese whatever the admin's language)."""
    spec = TEMPLATES[template]
    key = f"notify.body.{template.value}"
    if spec.variant:
        key = f"{key}.{params[spec.variant]}"
    return i18n.t(key, "zh", **params)


async def notify(
    tenant_id: int | None, template: Template, recipient: str, params: Mapping[str, Any]
) -> Message:
    """Send a message on its template's channel and store it with the state the channel answers.

    A notifier that raises does not undo the caller's change: the message is stored as failed.
    """
    spec = TEMPLATES[template]
    values = {k: str(v) for k, v in params.items()}
    body = render_body(template, values)
    message = Message(
        tenant_id=tenant_id,
        channel=spec.channel,
        recipient=recipient,
        template=template.value,
        params=values,
        body=body,
        state=MessageState.held,
    )
    try:
        state = await notifier_for(spec.channel).send(message)
    except Exception as exc:  # a gateway failure is recorded, never raised
        state = MessageState.failed
        message.detail = f"{type(exc).__name__}: {exc}"[:255]
    if state is not MessageState.held:
        # Only the development channel (whose outbox is the delivery) shows secrets in clear.
        for name in spec.secret:
            if name in values:
                message.body = message.body.replace(values[name], MASK)
                values[name] = MASK
        message.params = values
    message.state = state
    await message.save()
    return message


# --- verification codes -------------------------------------------------------------------------

PHONE = re.compile(r"1[3-9]\d{9}")
CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=5)
CODE_MAX_ATTEMPTS = 5
CODE_INTERVAL = timedelta(seconds=60)


class CodeRefused(Invalid):
    """A code that cannot be sent or does not prove the phone; `message` is a translation key."""

    def __init__(self, field: str, message: str, **params: Any) -> None:
        super().__init__(field, message)
        self.params = params


def valid_phone(raw: str) -> str:
    phone = re.sub(r"[\s-]", "", raw or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if not PHONE.fullmatch(phone):
        raise CodeRefused("phone", "notify.code.phone_invalid")
    return phone


def _code_hash(tenant_id: int, phone: str, purpose: str, code: str) -> str:
    return hashlib.sha256(f"{tenant_id}:{phone}:{purpose}:{code}".encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


async def send_code(
    tenant_id: int, phone: str, purpose: str, school: str, now: datetime | None = None
) -> Message:
    """Send a 6-digit code to `phone` (at most one a minute per phone); only its hash is kept."""
    now = now or _now()
    phone = valid_phone(phone)
    last = (
        await VerificationCode.filter(tenant_id=tenant_id, phone=phone)
        .order_by("-created_at", "-id")
        .first()
    )
    if last is not None and now - last.created_at < CODE_INTERVAL:
        wait = CODE_INTERVAL - (now - last.created_at)
        raise CodeRefused(
            "phone", "notify.code.too_soon", seconds=max(1, int(wait.total_seconds()))
        )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    await VerificationCode.create(
        tenant_id=tenant_id,
        phone=phone,
        purpose=purpose,
        code_hash=_code_hash(tenant_id, phone, purpose, code),
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    return await notify(
        tenant_id, Template.verification_code, phone, {"code": code, "school": school}
    )


async def check_code(
    tenant_id: int, phone: str, purpose: str, code: str, now: datetime | None = None
) -> str:
    """Use the phone's latest code for `purpose`; returns the normalised phone, else CodeRefused."""
    now = now or _now()
    phone = valid_phone(phone)
    row = (
        await VerificationCode.filter(
            tenant_id=tenant_id, phone=phone, purpose=purpose, used_at__isnull=True
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if row is None:
        raise CodeRefused("code", "notify.code.missing")
    if row.expires_at <= now:
        raise CodeRefused("code", "notify.code.expired")
    if row.attempts >= CODE_MAX_ATTEMPTS:
        raise CodeRefused("code", "notify.code.too_many")
    given = re.sub(r"\s", "", code or "")
    if not secrets.compare_digest(_code_hash(tenant_id, phone, purpose, given), row.code_hash):
        await VerificationCode.filter(id=row.id).update(attempts=F("attempts") + 1)
        left = CODE_MAX_ATTEMPTS - row.attempts - 1
        if left <= 0:
            raise CodeRefused("code", "notify.code.too_many")
        raise CodeRefused("code", "notify.code.wrong", left=left)
    # Conditional on still unused: two simultaneous uses of one code cannot both succeed.
    if not await VerificationCode.filter(id=row.id, used_at__isnull=True).update(used_at=now):
        raise CodeRefused("code", "notify.code.missing")
    return phone


# --- the message outbox -------------------------------------------------------------------------


class MessageFilter(In):
    channel: Channel | None = None
    recipient: str = ""
    template: Template | None = None
    sent_from: UtcDatetime | None = None
    sent_to: UtcDatetime | None = None


class MessageOut(Out):
    id: int
    channel: Channel
    recipient: str
    template: str
    body: str
    state: MessageState
    detail: str
    created_at: datetime


async def list_messages(
    principal: Principal, f: MessageFilter, params: PageParams
) -> Page[MessageOut]:
    """The tenant's messages, newest first unless another order is asked for."""
    query = scoped(Message, principal)
    if f.channel is not None:
        query = query.filter(channel=f.channel)
    if f.recipient:
        query = query.filter(recipient__contains=f.recipient)
    if f.template is not None:
        query = query.filter(template=f.template.value)
    query = within(query, "created_at", f.sent_from, f.sent_to)
    return await paginate(
        query,
        params,
        sorts={"created_at": "created_at", "recipient": "recipient"},
        default_sort="-created_at",
        convert=MessageOut.model_validate,
    )


MESSAGES = Crud(list=list_messages)
