"""Asking the cloud for a shift (签到) and giving it back (签退), signed like every sync request.

Three outcomes a caller acts on: granted, refused (the cloud says who holds the account or the
section), or unreachable (no identity, no network, cloud down or slow): the PDA then signs in
from its own knowledge and says so.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import aiohttp
from pydantic import ValidationError
from yarl import URL

from edge.identity import IdentityError, load_identity
from edge.settings import EdgeSettings
from protocols.pda import PDA_CLAIM_PATH, PdaClaim, PdaClaimReply
from protocols.signing import sign

log = logging.getLogger(__name__)

CLAIM_TIMEOUT_S = 4.0


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    granted: bool
    reachable: bool
    message: str = ""


class ClaimClient:
    def __init__(self, settings: EdgeSettings, timeout_s: float = CLAIM_TIMEOUT_S) -> None:
        self._settings = settings
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._last_ms = 0

    def _timestamp_ms(self) -> int:
        # Two claims in one millisecond would carry one signature, refused as a replay.
        now = max(int(time.time() * 1000), self._last_ms + 1)
        self._last_ms = now
        return now

    async def send(self, claim: PdaClaim) -> ClaimOutcome:
        try:
            identity = load_identity(self._settings.key_path, self._settings.identity_path)
        except IdentityError as exc:
            log.warning("PDA claim not sent: %s", exc)
            return ClaimOutcome(False, False, str(exc))
        if identity is None:
            return ClaimOutcome(False, False, "not enrolled")
        body = claim.model_dump_json().encode()
        url = URL(identity.cloud_url + PDA_CLAIM_PATH)
        signed = sign(identity.key, identity.edge, "POST", url.path, body, self._timestamp_ms())
        headers = {**signed.headers(), "Content-Type": "application/json"}
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout) as session,
                session.post(url, data=body, headers=headers) as reply,
            ):
                status, raw = reply.status, await reply.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.info(
                "PDA claim: cloud unreachable (%s): working offline", exc or type(exc).__name__
            )
            return ClaimOutcome(False, False, str(exc))
        if status in (200, 409):
            try:
                answer = PdaClaimReply.model_validate_json(raw)
            except ValidationError:
                return ClaimOutcome(False, False, f"unexpected claim reply ({status})")
            return ClaimOutcome(answer.ok, True, answer.message)
        # 401 (revoked, clock off), 422, 5xx: the cloud cannot decide now; offline rules apply.
        try:
            message = str(json.loads(raw).get("message", ""))
        except (ValueError, AttributeError):
            message = raw[:200].decode("utf-8", "replace")
        log.warning("PDA claim answered %d: %s", status, message)
        return ClaimOutcome(False, False, f"{status}: {message}")
