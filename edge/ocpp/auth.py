"""HTTP Basic auth of chargers (OCPP security profile 1) against the synced scrypt hash.

The hash is the one the cloud's passwords module writes (scrypt$N$r$p$salt$digest, base64);
the edge verifies it on its own, importing nothing of the cloud. scrypt costs ~50 ms and
16 MiB, so it runs in a thread, and a password once verified against a hash is remembered
(as its SHA-256, keyed by the hash) so 5,000 chargers reconnecting after an outage do not
cost 250 CPU-seconds.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac

_MAXMEM = 64 * 1024 * 1024


def verify_scrypt(password: str, encoded: str) -> bool:
    """True when password matches an scrypt$N$r$p$salt$digest hash (constant-time compare)."""
    try:
        scheme, n, r, p, salt_b64, digest_b64 = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest_b64)
        digest = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt_b64),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_MAXMEM,
            dklen=len(expected),
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(digest, expected)


class PasswordCache:
    """Verified (hash, password) pairs, as SHA-256 of the password per hash."""

    def __init__(self, most: int = 20_000) -> None:
        self._known: dict[str, bytes] = {}
        self._most = most

    async def verify(self, password: str, encoded: str) -> bool:
        fingerprint = hashlib.sha256(password.encode()).digest()
        known = self._known.get(encoded)
        if known is not None and hmac.compare_digest(known, fingerprint):
            return True
        if not await asyncio.to_thread(verify_scrypt, password, encoded):
            return False
        if len(self._known) >= self._most:
            self._known.clear()
        self._known[encoded] = fingerprint
        return True
