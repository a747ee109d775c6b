"""Settings documents: TOML data merged with WAYSIDE_* environment overrides, validated once."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

ENV_PREFIX = "WAYSIDE_"

M = TypeVar("M", bound=BaseModel)


class SettingsError(Exception):
    """A setting is missing, malformed or out of range; the message is one line naming the key."""


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file, turning syntax errors into a SettingsError that names the file."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None


def _env_value(raw: str) -> Any:
    """Environment values are JSON when they parse as JSON (numbers, booleans, lists), else text."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def apply_env(
    data: dict[str, Any], env: Mapping[str, str], fields: set[str], prefix: str = ENV_PREFIX
) -> dict[str, Any]:
    """Overlay <PREFIX><FIELD> (and <PREFIX><SECTION>__<FIELD> for nested keys) onto data."""
    merged = dict(data)
    for name, raw in env.items():
        if not name.startswith(prefix):
            continue
        path = name[len(prefix) :].lower().split("__")
        if path[0] not in fields:
            continue
        target = merged
        for part in path[:-1]:
            nested = target.get(part)
            target[part] = dict(nested) if isinstance(nested, dict) else {}
            target = target[part]
        target[path[-1]] = _env_value(raw)
    return merged


def describe_error(exc: ValidationError, source: str) -> str:
    """One line naming the first offending key and what is wrong with it."""
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(root)"
    given = first.get("input")
    shown = "" if isinstance(given, dict) else f" (got {given!r})"
    return f"{source}: setting '{key}': {first['msg']}{shown}"


def load_settings(
    model: type[M],
    data: dict[str, Any],
    env: Mapping[str, str],
    source: str,
    prefix: str = ENV_PREFIX,
) -> M:
    """Overlay the environment on data and validate it into model, or raise one SettingsError.

    The cloud reads WAYSIDE_<KEY>; the edge reads WAYSIDE_EDGE_<KEY>, so one shell (the demo)
    can configure both without one's port landing on the other.
    """
    merged = apply_env(data, env, set(model.model_fields), prefix)
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(describe_error(exc, source)) from None
