"""Payment channels behind one interface (create a payment, refund, verify a notification);
the simulated channel is the only one here, a real gateway goes behind the same interface.

The simulated channel signs its notifications with HMAC-SHA256 over the exact body. Its secret
is derived (HMAC-SHA256) from a master secret and the channel name: the master comes from the
WAYSIDE_PAYMENTS_SIM_SECRET environment variable, else a fixed development value, so every
cloud worker derives the same key without storing one. The simulated channel moves no money;
it is for development, tests and the demo, never a production merchant account.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import aiohttp

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Wayside-Pay-Signature"
CALLBACK_PATH = "/payments/callback/{channel}"
_DEV_MASTER = "wayside-simulated-payments-not-a-secret"


@dataclass(frozen=True)
class Checkout:
    """What a channel answers to a new payment: its own reference and where the driver pays."""

    channel_ref: str
    pay_url: str


@dataclass(frozen=True)
class Notification:
    """A verified payment notification."""

    channel_ref: str
    payment: str  # our payment number, echoed by the channel
    amount_fen: int
    status: Literal["paid", "failed"]
    paid_at: datetime
    raw: dict[str, Any]


@dataclass(frozen=True)
class RefundReceipt:
    channel_ref: str
    done: bool
    detail: str = ""


class BadNotification(Exception):
    """A notification whose signature or content does not verify: answered 400, nothing changes."""


class PaymentChannel(Protocol):
    name: str

    async def create(
        self, number: str, amount_fen: int, notify_url: str, public_base: str
    ) -> Checkout: ...

    async def refund(
        self, channel_ref: str, refund_number: str, amount_fen: int
    ) -> RefundReceipt: ...

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Notification: ...

    async def close(self) -> None: ...


def derived_secret(channel: str) -> bytes:
    master = os.environ.get("WAYSIDE_PAYMENTS_SIM_SECRET", _DEV_MASTER).encode()
    return hmac.new(master, f"wayside.payments.{channel}".encode(), hashlib.sha256).digest()


def sign(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


@dataclass
class SimulatedChannel:
    """Pays every payment by itself: `delay_s` after creation it POSTs a signed notification
    to the cloud's callback (retrying while the cloud does not answer 2xx, as real gateways
    do), from a task of this process."""

    name: str = "sim"
    delay_s: float = 1.0
    attempts: int = 6
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def secret(self) -> bytes:
        return derived_secret(self.name)

    async def create(
        self, number: str, amount_fen: int, notify_url: str, public_base: str
    ) -> Checkout:
        ref = f"SIM{secrets.token_hex(10).upper()}"
        task = asyncio.create_task(self._notify(notify_url, ref, number, amount_fen))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return Checkout(channel_ref=ref, pay_url=f"{public_base}/payments/sim/{ref}")

    def notification_body(self, ref: str, number: str, amount_fen: int) -> bytes:
        body = {
            "ref": ref,
            "payment": number,
            "amount_fen": amount_fen,
            "status": "paid",
            "paid_at": datetime.now(UTC).isoformat(),
        }
        return json.dumps(body, separators=(",", ":")).encode()

    async def _notify(self, url: str, ref: str, number: str, amount_fen: int) -> None:
        await asyncio.sleep(self.delay_s)
        body = self.notification_body(ref, number, amount_fen)
        headers = {SIGNATURE_HEADER: sign(self.secret, body), "Content-Type": "application/json"}
        pause = 0.2
        async with aiohttp.ClientSession() as session:
            for _ in range(self.attempts):
                try:
                    async with session.post(url, data=body, headers=headers) as resp:
                        if resp.status < 300:
                            return
                        log.info("simulated payment %s: callback answered %d", number, resp.status)
                        if resp.status == 400:
                            return  # refused as invalid: retrying sends the same thing
                except aiohttp.ClientError as exc:
                    log.info("simulated payment %s: callback failed: %s", number, exc)
                await asyncio.sleep(pause)
                pause *= 2
        log.warning("simulated payment %s: notification never accepted", number)

    async def refund(self, channel_ref: str, refund_number: str, amount_fen: int) -> RefundReceipt:
        return RefundReceipt(channel_ref=f"SIMR{secrets.token_hex(10).upper()}", done=True)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        given = headers.get(SIGNATURE_HEADER, "")
        if not given or not hmac.compare_digest(given, sign(self.secret, body)):
            raise BadNotification("signature missing or wrong")
        try:
            data = json.loads(body)
            status = data["status"]
            if status not in ("paid", "failed"):
                raise ValueError(status)
            return Notification(
                channel_ref=str(data["ref"]),
                payment=str(data["payment"]),
                amount_fen=int(data["amount_fen"]),
                status=status,
                paid_at=datetime.fromisoformat(data["paid_at"]).astimezone(UTC),
                raw=data,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadNotification(f"unreadable notification: {exc}") from None

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except asyncio.CancelledError:
                pass


CHANNELS: dict[str, PaymentChannel] = {"sim": SimulatedChannel()}


def channel(name: str) -> PaymentChannel | None:
    return CHANNELS.get(name)
