"""The school's pass-signing key: made on first use, its public half published to every campus."""

from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from tortoise.transactions import in_transaction

from cloud.campus.models import PassKey
from cloud.campus.publish import campus_ids
from cloud.sites.models import StateChange
from cloud.state import publish
from protocols.sync import Entity, PassKeyGrant


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _public(key: Ed25519PrivateKey) -> str:
    return _b64(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


async def _publish_where_missing(tenant_id: int, row: PassKey) -> None:
    """Every enabled campus of the school holds the key (a campus made after the key gets it on
    the next issuance)."""
    campuses = await campus_ids(tenant_id)
    holding = set(
        await StateChange.filter(
            site_id__in=campuses, entity=Entity.pass_key.value, key=row.kid
        ).values_list("site_id", flat=True)
    )
    for site_id in campuses:
        if site_id not in holding:
            await publish(
                site_id, Entity.pass_key, row.kid, PassKeyGrant(public_key=row.public_key)
            )


async def signing_key(tenant_id: int) -> tuple[str, Ed25519PrivateKey]:
    """(kid, private key) of the school's active pass key, creating and publishing it if needed."""
    async with in_transaction():
        row = await PassKey.filter(tenant_id=tenant_id, active=True).order_by("-id").first()
        if row is None:
            key = Ed25519PrivateKey.generate()
            row = await PassKey.create(
                tenant_id=tenant_id,
                kid=secrets.token_hex(4),
                private_key=key.private_bytes_raw(),
                public_key=_public(key),
            )
        await _publish_where_missing(tenant_id, row)
    return row.kid, Ed25519PrivateKey.from_private_bytes(bytes(row.private_key))
