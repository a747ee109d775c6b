"""Reading the edge identity back: not enrolled is None, anything broken names its file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge.identity import IdentityError, load_identity
from protocols.signing import new_private_key, private_key_pem, public_key_text


def write(tmp: Path, **override: object) -> tuple[Path, Path]:
    key = new_private_key()
    key_path, identity_path = tmp / "edge.key", tmp / "identity.json"
    key_path.write_bytes(private_key_pem(key))
    document: dict[str, object] = {
        "edge": "e1",
        "cloud_url": "http://cloud:8080/",
        "public_key": public_key_text(key),
    }
    identity_path.write_text(json.dumps(document | override))
    return key_path, identity_path


def test_not_enrolled_is_none(tmp_path: Path) -> None:
    assert load_identity(tmp_path / "edge.key", tmp_path / "identity.json") is None


def test_loads_what_enrollment_wrote(tmp_path: Path) -> None:
    identity = load_identity(*write(tmp_path))
    assert identity is not None
    assert (identity.edge, identity.cloud_url, identity.sites) == ("e1", "http://cloud:8080", ())
    assert "PRIVATE" not in repr(identity) and "key=" not in repr(identity)


@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        ("identity-not-json", "identity.json"),
        ("identity-list", "identity.json"),
        ("identity-no-edge", "identity.json"),
        ("key-missing", "edge.key"),
        ("key-garbage", "edge.key"),
        ("key-mismatch", "edge.key"),
    ],
)
def test_broken_files_are_a_clear_error_naming_the_file(
    tmp_path: Path, breakage: str, named: str
) -> None:
    key_path, identity_path = write(tmp_path)
    if breakage == "identity-not-json":
        identity_path.write_text('{"edge": "e1", ')
    elif breakage == "identity-list":
        identity_path.write_text("[]")
    elif breakage == "identity-no-edge":
        key_path, identity_path = write(tmp_path, edge="")
    elif breakage == "key-missing":
        key_path.unlink()
    elif breakage == "key-garbage":
        key_path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    elif breakage == "key-mismatch":
        key_path.write_bytes(private_key_pem(new_private_key()))
    with pytest.raises(IdentityError) as caught:
        load_identity(key_path, identity_path)
    assert named in str(caught.value) and str(tmp_path) in str(caught.value)
