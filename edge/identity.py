"""The edge's identity: its Ed25519 key (0600 on disk) and who the cloud enrolled it as.

`enroll` trades a one-time token for a place in the cloud; `load_identity` reads what it wrote.
Both files are replaced whole (temporary name, then rename), so a crash never leaves half a key.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from protocols.signing import (
    BadSignature,
    new_private_key,
    private_key_from_pem,
    private_key_pem,
    public_key_text,
)
from protocols.sync import ENROLL_PATH, EnrollRequest, EnrollResponse

ENROLL_TIMEOUT_S = 30.0


class EnrollError(Exception):
    """Enrollment did not happen (cloud unreachable or answering nonsense); nothing was written."""


class EnrollRefused(EnrollError):
    """The cloud said no (token unknown, used or expired; bad key): its message, verbatim."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class IdentityError(Exception):
    """An identity or key file exists but cannot be used; the message names the file."""


@dataclass(frozen=True)
class Identity:
    edge: str
    cloud_url: str
    key: Ed25519PrivateKey = field(repr=False)
    sites: tuple[str, ...] = ()

    @property
    def public_key(self) -> str:
        return public_key_text(self.key)


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` readable by the owner only, from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.unlink()  # a leftover of an interrupted enrollment
    except FileNotFoundError:
        pass
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _sync_dir(path.parent)


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _cloud_message(status: int, body: bytes) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict):
        message = document.get("message") or document.get("error")
        if isinstance(message, str) and message:
            return message
    text = body.decode("utf-8", "replace").strip()[:200]
    return text or f"HTTP {status}"


async def enroll(
    cloud_url: str,
    token: str,
    key_path: Path,
    identity_path: Path,
    session: aiohttp.ClientSession,
) -> Identity:
    """Generate a key pair, register its public half with the token, and keep both files.

    Raises EnrollRefused (4xx, the cloud's message) or EnrollError (unreachable, 5xx); in
    either case the files of a previous enrollment are left as they were. Re-enrolling (after
    a revoke) replaces both files.
    """
    cloud_url = cloud_url.rstrip("/")
    key = new_private_key()
    try:
        request = EnrollRequest(token=token, public_key=public_key_text(key))
    except ValidationError as exc:
        raise EnrollRefused(0, f"enrollment token: {exc.errors()[0]['msg']}") from None
    url = cloud_url + ENROLL_PATH
    try:
        async with session.post(
            url,
            data=request.model_dump_json().encode(),
            headers={"Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=ENROLL_TIMEOUT_S),
        ) as response:
            status = response.status
            body = await response.read()
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise EnrollError(f"cloud {cloud_url} not reachable: {exc or type(exc).__name__}") from None
    if 400 <= status < 500:
        raise EnrollRefused(status, _cloud_message(status, body))
    if status != 200:
        raise EnrollError(f"cloud answered {status}: {_cloud_message(status, body)}")
    try:
        answer = EnrollResponse.model_validate_json(body)
    except ValidationError as exc:
        raise EnrollError(f"unreadable enrollment answer: {exc}") from None
    identity = Identity(answer.edge, cloud_url, key, tuple(answer.sites))
    # The key first: an identity file never points at a key that is not there.
    _write_private(key_path, private_key_pem(key))
    document = {
        "edge": identity.edge,
        "cloud_url": identity.cloud_url,
        "public_key": identity.public_key,
        "sites": list(identity.sites),
    }
    _write_private(identity_path, (json.dumps(document, indent=2) + "\n").encode())
    return identity


def _text(document: dict[str, Any], name: str, path: Path) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise IdentityError(f"{path}: {name!r} is missing or not text")
    return value


def load_identity(key_path: Path, identity_path: Path) -> Identity | None:
    """The enrolled identity, or None when this edge was never enrolled (no identity file).

    A file that is there but unusable raises IdentityError naming it.
    """
    try:
        raw = identity_path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise IdentityError(f"{identity_path}: cannot read: {exc.strerror}") from None
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise IdentityError(
            f"{identity_path}: not valid JSON ({exc}); re-enroll the edge"
        ) from None
    if not isinstance(document, dict):
        raise IdentityError(f"{identity_path}: not a JSON object; re-enroll the edge")
    edge = _text(document, "edge", identity_path)
    cloud_url = _text(document, "cloud_url", identity_path).rstrip("/")
    public_key = _text(document, "public_key", identity_path)
    sites: Sequence[Any] = document.get("sites") or ()
    try:
        pem = key_path.read_bytes()
    except FileNotFoundError:
        raise IdentityError(
            f"{key_path}: key file missing (identity {identity_path} refers to it);"
            " re-enroll the edge"
        ) from None
    except OSError as exc:
        raise IdentityError(f"{key_path}: cannot read: {exc.strerror}") from None
    try:
        key = private_key_from_pem(pem)
    except BadSignature as exc:
        raise IdentityError(f"{key_path}: {exc}; re-enroll the edge") from None
    if public_key_text(key) != public_key:
        raise IdentityError(
            f"{key_path}: the key does not match the public key in {identity_path};"
            " re-enroll the edge"
        )
    return Identity(edge, cloud_url, key, tuple(str(site) for site in sites))
