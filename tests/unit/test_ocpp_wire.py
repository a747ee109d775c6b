"""OCPP frames: the compiled schema check agrees with jsonschema, 1.6 error codes, lenient
normalisation, charger times, meter values, and the edge's scrypt check of cloud hashes."""

from __future__ import annotations

import asyncio
import copy
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ocpp.exceptions import OCPPError

from cloud.passwords import hash_password
from edge.ocpp.auth import PasswordCache, verify_scrypt
from edge.ocpp.engine import billing_readings, parse_meter_values
from edge.ocpp.wire import (
    HANDLED,
    BadFrame,
    charger_time,
    fast_check,
    normalise,
    parse_frame,
    validate_call,
    validator,
)
from edge.store import Store, event_row
from protocols.events import ChargerLink

VALID: dict[str, dict[str, Any]] = {
    "Authorize": {"idTag": "CARD1"},
    "BootNotification": {"chargePointVendor": "V", "chargePointModel": "M"},
    "DataTransfer": {"vendorId": "x", "messageId": "m", "data": "d"},
    "DiagnosticsStatusNotification": {"status": "Idle"},
    "FirmwareStatusNotification": {"status": "Installed"},
    "Heartbeat": {},
    "MeterValues": {
        "connectorId": 1,
        "transactionId": 3,
        "meterValue": [
            {
                "timestamp": "2025-01-01T00:00:00Z",
                "sampledValue": [{"value": "10", "unit": "kWh", "context": "Sample.Periodic"}],
            }
        ],
    },
    "StartTransaction": {
        "connectorId": 1,
        "idTag": "CARD1",
        "meterStart": 0,
        "timestamp": "2025-01-01T00:00:00Z",
    },
    "StatusNotification": {"connectorId": 0, "errorCode": "NoError", "status": "Available"},
    "StopTransaction": {"meterStop": 5, "timestamp": "2025-01-01T01:00:00Z", "transactionId": 3},
}
ODD_VALUES: list[Any] = ["", "x" * 60, "1", 1, 1.5, -1, True, None, [], [{}], {}, {"a": 1}]


def _mutations(payload: Any, rng: random.Random) -> Any:
    """A copy with one value somewhere replaced, removed or an extra key added."""
    mutated = copy.deepcopy(payload)
    paths: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in list(node):
                paths.append((node, key))
                walk(node[key])
        elif isinstance(node, list):
            for index in range(len(node)):
                paths.append((node, index))
                walk(node[index])

    walk(mutated)
    if not paths:
        return {"extra": rng.choice(ODD_VALUES)}
    parent, key = rng.choice(paths)
    move = rng.random()
    if move < 0.6:
        parent[key] = rng.choice(ODD_VALUES)
    elif move < 0.8 and isinstance(parent, dict):
        del parent[key]
    elif isinstance(parent, dict):
        parent["extraField"] = 1
    else:
        parent.clear()
    return mutated


def test_compiled_check_agrees_with_jsonschema() -> None:
    rng = random.Random(7)
    assert set(VALID) == HANDLED
    for action, payload in VALID.items():
        assert fast_check(action)(payload), action
        full = validator(action)
        for _ in range(400):
            mutated = _mutations(payload, rng)
            assert fast_check(action)(mutated) == full.is_valid(mutated), (action, mutated)


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("Authorize", {}, "ProtocolError"),
        ("Authorize", {"idTag": 5}, "TypeConstraintViolation"),
        ("Authorize", {"idTag": "x" * 21}, "TypeConstraintViolation"),
        ("Authorize", {"idTag": "x", "more": 1}, "FormationViolation"),
        ("StatusNotification", {**VALID["StatusNotification"], "status": "On"}, "PropertyConstraintViolation"),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, "OccurenceConstraintViolation"),
        ("Unheard", {}, "NotSupported"),
        ("SignCertificate", {"csr": "x"}, "NotImplemented"),
    ],
)  # fmt: skip
def test_violations_get_the_1_6_error_codes(
    action: str, payload: dict[str, Any], code: str
) -> None:
    with pytest.raises(OCPPError) as error:
        validate_call(action, payload)
    assert error.value.code == code


@pytest.mark.parametrize(
    ("text", "code", "unique_id"),
    [
        ("garbage", "FormationViolation", "-1"),
        ('[2, "abc", "Heartbeat", {oops', "FormationViolation", "abc"),
        ('{"a": 1}', "FormationViolation", "-1"),
        ('[2, "abc", "Heartbeat"]', "ProtocolError", "abc"),
        ('[9, "abc", "Heartbeat", {}]', "PropertyConstraintViolation", "abc"),
        ('[2, 5, "Heartbeat", {}]', "FormationViolation", "-1"),
        ('[2, "abc", "Heartbeat", []]', "FormationViolation", "abc"),
    ],
)
def test_bad_frames(text: str, code: str, unique_id: str) -> None:
    with pytest.raises(BadFrame) as bad:
        parse_frame(text)
    assert bad.value.error.code == code and bad.value.unique_id == unique_id


def test_lenient_normalisation_fixes_what_is_safe() -> None:
    payload, notes = normalise(
        "StatusNotification",
        {"ConnectorId": "1", "errorCode": "Error", "status": "charging", "vendorJunk": 1},
    )
    assert payload == {"connectorId": 1, "errorCode": "OtherError", "status": "Charging"}
    assert len(notes) == 5
    validate_call("StatusNotification", payload)
    payload, _ = normalise("Authorize", {"idTag": 12345})
    assert payload == {"idTag": "12345"}
    payload, _ = normalise("StartTransaction", {**VALID["StartTransaction"], "meterStart": 12.0})
    assert payload["meterStart"] == 12


def test_charger_times() -> None:
    now = datetime(2025, 6, 1, 12, tzinfo=UTC)
    local = charger_time("2025-06-01T20:00:00+08:00", now)
    assert local.at == now and local.flag == ""
    naive = charger_time("2025-06-01T12:00:00", now)
    assert naive.at == now and naive.flag == "naive_time"
    assert charger_time("1970-01-01T00:00:00Z", now) == charger_time("2099-01-01T00:00:00Z", now)
    assert charger_time("1970-01-01T00:00:00Z", now).flag == "implausible_time"
    with pytest.raises(OCPPError):
        charger_time("yesterday", now)


def test_meter_values_units_defaults_and_begin_duplicates() -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    samples, notes = parse_meter_values(
        [
            {
                "timestamp": "2025-06-01T00:10:00Z",
                "sampled_value": [
                    {"value": "1.5", "unit": "kWh"},
                    {"value": "0", "context": "Transaction.Begin"},
                    {"value": "7", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "500", "measurand": "Energy.Active.Import.Register", "phase": "L1"},
                    {"value": "80", "measurand": "SoC"},
                ],
            },
            {"timestamp": "2025-06-01T00:05:00Z", "sampled_value": [{"value": "900"}]},
            {"timestamp": "2025-06-01T00:15:00Z", "sampled_value": [{"value": "n/a"}]},
        ],
        now,
    )
    assert [(s.energy_wh, s.power_w, s.soc) for s in samples] == [
        (900, None, None),
        (1500, 7000, 80),
    ]
    assert notes and "unreadable" in notes[0]


def test_billing_readings_never_go_backwards() -> None:
    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    readings = billing_readings(
        1000,
        t0,
        [(t0 + timedelta(minutes=2), 500), (t0 + timedelta(minutes=1), 1500), (t0, 2000)],
    )
    assert [r.wh for r in readings] == [1000, 2000, 2000, 2000]
    assert [r.at for r in readings] == sorted(r.at for r in readings)


def test_edge_verifies_the_clouds_password_hashes() -> None:
    encoded = hash_password("charger-pass")
    assert verify_scrypt("charger-pass", encoded)
    assert not verify_scrypt("other", encoded)
    assert not verify_scrypt("charger-pass", "bcrypt$whatever")
    assert not verify_scrypt("charger-pass", "scrypt$1$2$3$!!!$???")

    async def twice() -> tuple[bool, bool, bool]:
        cache = PasswordCache()
        return (
            await cache.verify("charger-pass", encoded),
            await cache.verify("charger-pass", encoded),
            await cache.verify("wrong", encoded),
        )

    assert asyncio.run(twice()) == (True, True, False)


async def test_group_commit_batches_writers_and_keeps_their_order(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "edge.db")
    try:
        now = datetime.now(UTC)

        async def write(i: int) -> None:
            event = ChargerLink(site="s", charge_point=f"CP{i}", online=True, at=now)
            await store.commit([], [event_row("charging.link", "s", now, event)])

        await asyncio.gather(*(write(i) for i in range(200)))
        assert store.group_writes == 200 and store.group_commits < 200
        rows = await store.read("select payload from outbox order by seq")
        assert [r[0].split('"charge_point":"')[1].split('"')[0] for r in rows] == [
            f"CP{i}" for i in range(200)
        ]
        # One writer's bad statement fails only that writer.
        results = await asyncio.gather(
            store.commit([("insert into nowhere values (?)", [(1,)])]),
            write(999),
            return_exceptions=True,
        )
        assert isinstance(results[0], Exception) and results[1] is None
        assert store.outbox_rows == 201
    finally:
        await store.close()
