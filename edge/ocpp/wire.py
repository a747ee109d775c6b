"""OCPP 1.6J frames as they arrive: parsing, schema validation, 1.6 error codes, lenient fixes.

Validation cost, measured with `python -m edge.ocpp.measure` (MeterValues of 3 samples x 4
measurands; 2-vCPU VM, Python 3.11, jsonschema 4.26):

    way                                      per message   CPU at 1,000/s   p99 at 1,000/s
    package default (executor per message)        316 us        38 %          0.80 ms
      ... 200 senders flat out: p99 105 ms (the pool's queue), 3,200 msgs/s at most
    jsonschema's cached validator, on loop        295 us        31 %          0.36 ms
    compiled check (compile_check), on loop        26 us         5 %          0.04 ms
    no validation                                   1 us         -              -

The thread hop buys nothing: jsonschema is pure Python, so the pool threads hold the GIL the
loop needs, and each message adds a Future, a queue and a wake-up. jsonschema itself is the
cost (the package's validators are already cached). Decision: validate every incoming CALL
on the loop with a compiled check: each 1.6 schema is turned once into plain-Python closures
(type, properties, required, additionalProperties, enum, maxLength, minItems, items: all
the charger-to-central-system schemas use; `format` is not checked by the package either);
only a payload that fails pays for jsonschema's best_match search to name the error.
Schemas with other keywords fall back to jsonschema. Handlers are registered with
skip_schema_validation=True so the package validates nothing twice; our own responses are
built from the package's typed dataclasses and are not re-validated on the hot path (the
tests' independent ocpp client validates every one of them). Skipping validation would save
25 us a message but let malformed frames reach handlers; at the benchmark's load (5,000
chargers: ~670 MeterValues and ~85 Heartbeats a second) the compiled check costs ~4 % of
one core. tests/unit/test_ocpp_wire.py checks the compiled check agrees with jsonschema.

Error codes are the 1.6 spellings (FormationViolation, OccurenceConstraintViolation), not the
2.0.1 ones the package uses for some failures.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match
from ocpp.exceptions import (
    FormationViolationError,
    NotImplementedError,
    NotSupportedError,
    OccurenceConstraintViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    TypeConstraintViolationError,
)
from ocpp.messages import get_validator
from ocpp.v16.enums import Action

log = logging.getLogger(__name__)

CALL, CALL_RESULT, CALL_ERROR = 2, 3, 4
MAX_UNIQUE_ID = 36
# Actions a charger may send that this central system answers.
HANDLED = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
    }
)
_V16_ACTIONS = frozenset(action.value for action in Action)
_VALIDATORS: dict[str, Draft4Validator] = {}
_CHECKS: dict[str, Check] = {}
_UNIQUE_ID = re.compile(r'^\s*\[\s*\d\s*,\s*"([^"]{1,36})"')
# Enum values firmware is known to send that have a safe 1.6 meaning (lenient chargers only).
_ALIASES = {"Error": "OtherError", "Faulted ": "Faulted"}


class BadFrame(Exception):
    """A frame that is not an OCPP message; `error` is the CALLERROR to answer with and
    `unique_id` the id to answer to (recovered from the text when possible, else "-1")."""

    def __init__(self, error: OCPPError, unique_id: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.unique_id = unique_id


@dataclass(slots=True)
class Frame:
    """One parsed message: a CALL (action, payload) or a CALLRESULT / CALLERROR."""

    kind: int
    unique_id: str
    action: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    raw: list[Any] = field(default_factory=list)


def call_error_text(unique_id: str, error: OCPPError) -> str:
    details = error.details if isinstance(error.details, dict) else {}
    safe = {key: str(value)[:200] for key, value in details.items() if key != "ocpp_message"}
    return json.dumps(
        [CALL_ERROR, unique_id, error.code, error.description[:255], safe],
        separators=(",", ":"),
        ensure_ascii=False,
    )


def parse_frame(text: str | bytes) -> Frame:
    """Parse one WebSocket text frame; raises BadFrame with the CALLERROR it deserves."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise BadFrame(FormationViolationError(details={"cause": "not UTF-8"}), "-1") from None
    try:
        message = json.loads(text)
    except ValueError:
        found = _UNIQUE_ID.match(text)
        raise BadFrame(
            FormationViolationError(details={"cause": "not valid JSON"}),
            found.group(1) if found else "-1",
        ) from None
    if not isinstance(message, list) or not message:
        raise BadFrame(FormationViolationError(details={"cause": "not a JSON array"}), "-1")
    kind = message[0]
    unique_id = message[1] if len(message) > 1 and isinstance(message[1], str) else ""
    answer_to = unique_id[:MAX_UNIQUE_ID] or "-1"
    if kind not in (CALL, CALL_RESULT, CALL_ERROR) or isinstance(kind, bool):
        raise BadFrame(
            PropertyConstraintViolationError(details={"cause": f"MessageTypeId {kind!r}"}),
            answer_to,
        )
    if not unique_id or len(unique_id) > MAX_UNIQUE_ID:
        raise BadFrame(
            FormationViolationError(details={"cause": "UniqueId must be a string of 1-36"}),
            answer_to,
        )
    if kind == CALL:
        if len(message) != 4:
            raise BadFrame(ProtocolError(details={"cause": "a CALL has 4 elements"}), answer_to)
        if not isinstance(message[2], str) or not isinstance(message[3], dict):
            raise BadFrame(
                FormationViolationError(details={"cause": "Action string, Payload object"}),
                answer_to,
            )
        return Frame(CALL, unique_id, message[2], message[3], message)
    return Frame(kind, unique_id, raw=message)


Check = Callable[[Any], bool]
_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}
# Keywords that change nothing about validity (Draft4Validator checks no `format` unless
# given a format checker, and the package gives none).
_INERT = frozenset({"$schema", "$id", "id", "title", "description", "javaType", "format"})
_COMPILED = frozenset(
    {"type", "properties", "required", "additionalProperties", "enum", "maxLength"}
    | {"minItems", "items"}
)


class _Uncompilable(Exception):
    pass


def compile_check(schema: dict[str, Any]) -> Check:
    """A plain-Python yes/no check equivalent to Draft4Validator(schema).is_valid for the
    keywords the 1.6 charger-to-central-system schemas use; raises _Uncompilable otherwise."""
    unknown = set(schema) - _INERT - _COMPILED
    if unknown:
        raise _Uncompilable(", ".join(sorted(unknown)))
    checks: list[Check] = []
    kind = schema.get("type")
    if kind is not None:
        if not isinstance(kind, str) or kind not in _TYPES:
            raise _Uncompilable(f"type {kind!r}")
        checks.append(_TYPES[kind])
    if "enum" in schema:
        allowed = list(schema["enum"])
        checks.append(lambda v: not isinstance(v, str) or v in allowed)
        if not all(isinstance(option, str) for option in allowed):
            raise _Uncompilable("non-string enum")
    if "maxLength" in schema:
        most = int(schema["maxLength"])
        checks.append(lambda v: not isinstance(v, str) or len(v) <= most)
    if "minItems" in schema:
        least = int(schema["minItems"])
        checks.append(lambda v: not isinstance(v, list) or len(v) >= least)
    if "items" in schema:
        if not isinstance(schema["items"], dict):
            raise _Uncompilable("tuple items")
        item = compile_check(schema["items"])
        checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
    if "properties" in schema or "required" in schema or "additionalProperties" in schema:
        fields = {name: compile_check(sub) for name, sub in schema.get("properties", {}).items()}
        required = list(schema.get("required", []))
        extra = schema.get("additionalProperties", True)
        if extra not in (True, False):
            raise _Uncompilable("additionalProperties schema")

        def check_object(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for name in required:
                if name not in v:
                    return False
            for name, item in v.items():
                sub = fields.get(name)
                if sub is None:
                    if extra is False:
                        return False
                elif not sub(item):
                    return False
            return True

        checks.append(check_object)
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(check(v) for check in checks)


def fast_check(action: str) -> Check:
    """The compiled check of an action's CALL schema (jsonschema's own when it cannot be
    compiled), cached."""
    found = _CHECKS.get(action)
    if found is None:
        full = validator(action)
        try:
            found = compile_check(full.schema)
        except _Uncompilable as exc:
            log.info("OCPP %s schema validated by jsonschema (%s)", action, exc)
            found = full.is_valid
        _CHECKS[action] = found
    return found


def validator(action: str) -> Draft4Validator:
    """The cached validator of a charger-to-central-system CALL (NotImplemented/NotSupported
    for actions this central system does not take)."""
    found = _VALIDATORS.get(action)
    if found is not None:
        return found
    if action not in _V16_ACTIONS:
        raise NotSupportedError(details={"cause": f"{action} is not an OCPP 1.6 action"})
    if action not in HANDLED:
        raise NotImplementedError(details={"cause": f"{action} is not handled here"})
    found = _VALIDATORS[action] = get_validator(CALL, action, "1.6")
    return found


def schema_error(error: SchemaError) -> OCPPError:
    """The 1.6 CALLERROR for a schema violation."""
    where = "/".join(str(part) for part in error.absolute_path) or "(payload)"
    details = {"cause": f"{where}: {error.message}"[:250]}
    kind = error.validator
    if kind == "type":
        return TypeConstraintViolationError(details=details)
    if kind == "maxLength":  # CiString20Type etc. are types with a length in 1.6
        return TypeConstraintViolationError(details=details)
    if kind == "required":
        return ProtocolError(details=details)
    if kind in ("minItems", "maxItems"):
        return OccurenceConstraintViolationError(details=details)
    if kind in ("enum", "format", "minimum", "maximum", "pattern", "minLength"):
        return PropertyConstraintViolationError(details=details)
    return FormationViolationError(details=details)


def validate_call(action: str, payload: dict[str, Any]) -> None:
    """Raise the 1.6 CALLERROR for a payload that violates its action's schema: the compiled
    check says yes or no; only a no pays for jsonschema's search for the best error."""
    if fast_check(action)(payload):
        return
    errors = list(validator(action).iter_errors(payload))
    if errors:
        error = best_match(errors)
        assert error is not None
        raise schema_error(error)


# --- lenient mode -----------------------------------------------------------------------------


def normalise(action: str, payload: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Fix what is safe to fix, guided by the action's schema: numbers sent as strings (and
    strings as numbers), miscased field names and enum values, known enum aliases, unknown
    fields where none are allowed. Returns the payload and what was changed (to log)."""
    try:
        schema = validator(action).schema
    except OCPPError:
        return payload, []
    notes: list[str] = []
    fixed = _normalise(payload, schema, "", notes)
    return (fixed if isinstance(fixed, dict) else payload), notes


def _normalise(value: Any, schema: dict[str, Any], path: str, notes: list[str]) -> Any:
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        properties: dict[str, Any] = schema.get("properties", {})
        by_lower = {name.lower(): name for name in properties}
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = key if key in properties else by_lower.get(str(key).lower())
            if name is None:
                if schema.get("additionalProperties") is False:
                    notes.append(f"dropped unknown field {path}{key}")
                    continue
                out[key] = item
                continue
            if name != key:
                notes.append(f"field {path}{key} read as {name}")
            out[name] = _normalise(item, properties[name], f"{path}{name}.", notes)
        return out
    if kind == "array" and isinstance(value, list):
        items = schema.get("items", {})
        return [_normalise(item, items, f"{path}[{i}].", notes) for i, item in enumerate(value)]
    where = path.rstrip(".")
    if kind == "integer":
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            notes.append(f"{where}: number sent as a string {value!r}")
            return int(value)
        if isinstance(value, float) and value.is_integer():
            notes.append(f"{where}: integer sent as {value!r}")
            return int(value)
    if kind == "number" and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        notes.append(f"{where}: number sent as a string {value!r}")
        return number
    if kind == "string":
        if isinstance(value, int | float) and not isinstance(value, bool):
            notes.append(f"{where}: string sent as a number {value!r}")
            return str(value)
        allowed = schema.get("enum")
        if isinstance(value, str) and allowed and value not in allowed:
            alias = _ALIASES.get(value)
            if alias in allowed:
                notes.append(f"{where}: {value!r} read as {alias!r}")
                return alias
            for option in allowed:
                if option.lower() == value.strip().lower():
                    notes.append(f"{where}: {value!r} read as {option!r}")
                    return option
    return value


# --- times -----------------------------------------------------------------------------------

# Times before this, or more than a day ahead of the edge's clock, are not believed.
EARLIEST = datetime(2015, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ChargerTime:
    at: datetime  # aware, UTC
    flag: str = ""  # naive_time (read as UTC), implausible_time (replaced by the edge's clock)


def charger_time(text: str, now: datetime) -> ChargerTime:
    """A charger's timestamp as UTC. One without an offset is read as UTC and flagged (never
    silently in the server's zone); one before 2015 or a day ahead is replaced by `now`."""
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise PropertyConstraintViolationError(
            details={"cause": f"timestamp {text[:40]!r} is not ISO 8601"}
        ) from None
    flag = ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
        flag = "naive_time"
    moment = moment.astimezone(UTC)
    if moment < EARLIEST or moment > now + timedelta(days=1):
        return ChargerTime(now, "implausible_time")
    return ChargerTime(moment, flag)
