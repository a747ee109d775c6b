"""A paid lot at the edge, over real sockets: camera pushes -> edge -> Modbus barrier, display and
guidance screen simulators; synced state applied as the cloud would publish it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from edge.api import COMMANDS, LANES
from protocols.events import Reason, Verdict
from protocols.site import SiteDocument
from protocols.sync import Command, CommandKind, Entity, SiteState, StateChange
from tests.integration.test_edge_lanes import edge_settings, free_port, lane_doc, rig

FLAT_500 = {
    "kind": "parking",
    "name": "按次5元",
    "elements": [{"label": "按次", "components": [{"kind": "flat", "price_fen": 500}]}],
}


def lot_document(guidance: bool = True) -> SiteDocument:
    site: dict[str, Any] = {
        "code": "lot",
        "name": "lot",
        "kind": "parking_lot",
        "capacity": 3,
        "gates": [
            {
                "code": "g",
                "name": "g",
                "lanes": [lane_doc("p-in", "entry"), lane_doc("p-out", "exit")],
            }
        ],
    }
    if guidance:
        site["guidance"] = {"port": free_port()}
    return SiteDocument.model_validate({"tenant": "t", "sites": [site]})


def lot_state(revision: int = 1, **extra: list[tuple[Entity, str, dict[str, Any]]]) -> SiteState:
    changes = [
        StateChange(
            entity=Entity.parking_site,
            key="lot",
            data={
                "name": "lot",
                "kind": "parking_lot",
                "tariff": "parking:1",
                "capacity": 3,
                "refuse_arrears_above_fen": 3000,
            },
        ),
        StateChange(
            entity=Entity.tariff,
            key="parking:1",
            data={"versions": [{"effective_from": "2026-01-01", "document": FLAT_500}]},
        ),
    ]
    for entity, key, data in extra.get("more", []):
        changes.append(StateChange(entity=entity, key=key, data=data))
    return SiteState(site="lot", revision=revision, full=True, changes=changes)


def arrears(total: int) -> dict[str, Any]:
    item = {
        "order": str(uuid.uuid4()),
        "site": "street",
        "amount_fen": total,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    return {"total_fen": total, "items": [item]}


async def test_arrears_above_the_threshold_refuse_entry_and_the_display_says_why(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, lot_document()) as r:
        await r.store.apply_state(
            lot_state(
                more=[
                    (Entity.arrears, "京A11111", arrears(3500)),
                    (Entity.arrears, "京A22222", arrears(1000)),
                ]
            )
        )
        entry = r.lane("p-in")
        assert entry.barrier is not None and entry.display is not None
        waiting = asyncio.create_task(entry.display.wait_frame())
        await entry.camera.push("京A11111")
        frame = await waiting
        assert (frame.line1, frame.line2, frame.colour) == ("京A11111", "欠费35.00元 请补缴", "red")
        assert entry.barrier.opens == 0
        waiting = asyncio.create_task(entry.display.wait_frame())
        await entry.camera.push("京A22222")
        frame = await waiting
        assert frame.line2 == "欠费10.00元 请及时补缴" and frame.colour == "yellow"
        await entry.barrier.wait_opens(1)
        records = {a.plate: a for a in await r.store.access_records()}
        assert (records["京A11111"].verdict, records["京A11111"].reason) == (
            Verdict.deny,
            Reason.arrears,
        )
        assert records["京A22222"].verdict == Verdict.open and records["京A22222"].session


async def test_exit_shows_the_fee_holds_the_barrier_and_a_prepayment_lets_it_out(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path, lot_document()) as r:
        await r.store.apply_state(lot_state())
        entry, exit_ = r.lane("p-in"), r.lane("p-out")
        assert exit_.barrier is not None and exit_.display is not None
        board = r.sims.guidance["lot"]
        await board.wait_free(3)
        await entry.camera.push("粤B12345")
        await board.wait_free(2)
        waiting = asyncio.create_task(exit_.display.wait_frame())
        await exit_.camera.push("粤B12345")
        frame = await waiting
        assert frame.line1 == "粤B12345" and frame.line2.endswith("请缴费5.00元")
        assert frame.colour == "red" and exit_.barrier.opens == 0
        events = await r.store.pending(100, 1_000_000)
        assessed = [e for e in events if e.type == "parking.fee_assessed"]
        assert len(assessed) == 1 and assessed[0].payload["due_fen"] == 500
        assert not [e for e in events if e.type == "parking.session_ended"]
        # Paid in the lot (through the cloud): a lane_paid command without a lane.
        session = assessed[0].payload["session"]
        now = datetime.now(UTC)
        prepaid = Command(
            id=uuid.uuid4(),
            kind=CommandKind.lane_paid,
            site="lot",
            payload={
                "session": session,
                "payment": str(uuid.uuid4()),
                "amount_fen": 500,
                "paid_at": now.isoformat(),
            },
            issued_at=now,
            expires_at=now + timedelta(minutes=5),
        )
        commands = r.app[COMMANDS]
        assert await commands.handle(prepaid) is not None
        assert await commands.handle(prepaid) is None, "a redelivery changes nothing"
        assert exit_.barrier.opens == 0, "a prepayment opens nothing by itself"
        await exit_.camera.push("粤B12345")
        await exit_.barrier.wait_opens(1)
        await board.wait_free(3)
        events = await r.store.pending(100, 1_000_000)
        (ended,) = [e for e in events if e.type == "parking.session_ended"]
        assert ended.payload["session"] == session
        assert (ended.payload["due_fen"], ended.payload["paid_fen"]) == (500, 500)
        assert ended.payload["tariff"] == "parking:1" and ended.payload["entered_at"]
        assert ended.payload["bill"]["total_fen"] == 500


async def test_monthly_pass_and_special_plates_park_free_and_another_lots_pass_pays(
    tmp_path: Path,
) -> None:
    today = date.today()
    pass_here = {
        "holder": "王",
        "sites": ["lot"],
        "valid_from": (today - timedelta(days=3)).isoformat(),
        "valid_until": (today + timedelta(days=3)).isoformat(),
    }
    pass_elsewhere = {**pass_here, "sites": ["west-lot"]}
    special = {"name": "警车", "plate_kinds": ["police"]}
    async with rig(tmp_path, lot_document(guidance=False)) as r:
        await r.store.apply_state(
            lot_state(
                more=[
                    (Entity.monthly_pass, "京A33333", pass_here),
                    (Entity.monthly_pass, "京A44444", pass_elsewhere),
                    (Entity.special_plate, "1", special),
                ]
            )
        )
        entry, exit_ = r.lane("p-in"), r.lane("p-out")
        assert exit_.barrier is not None
        for plate in ("京A33333", "京A44444", "京A1234警"):
            await entry.camera.push(plate)
        for plate in ("京A33333", "京A1234警", "京A44444"):
            await exit_.camera.push(plate)
        assert exit_.barrier.opens == 2
        events = await r.store.pending(100, 1_000_000)
        ended = {e.payload["plate"]: e.payload for e in events if e.type == "parking.session_ended"}
        assert ended["京A33333"]["free_reason"] == "monthly" and ended["京A33333"]["due_fen"] == 0
        assert ended["京A1234警"]["free_reason"] == "special"
        assert "京A44444" not in ended, "a monthly pass of another lot is a paying stay here"
        reasons = {a.plate: a.reason for a in await r.store.access_records() if a.lane == "p-in"}
        assert reasons == {
            "京A33333": Reason.monthly,
            "京A44444": Reason.default,
            "京A1234警": Reason.special,
        }


async def test_a_no_plate_ticket_enters_and_pays_at_the_exit(tmp_path: Path) -> None:
    settings = edge_settings(tmp_path)
    async with rig(tmp_path, lot_document(), settings=settings) as r:
        await r.store.apply_state(lot_state())
        entry, exit_ = r.lane("p-in"), r.lane("p-out")
        assert entry.barrier is not None and exit_.barrier is not None
        assert entry.display is not None
        waiting = asyncio.create_task(entry.display.wait_frame())
        await entry.camera.push("")
        frame = await waiting
        assert (frame.line1, frame.line2) == ("无牌车", "请扫码取票")
        commands = r.app[COMMANDS]

        def ticket(lane: str) -> Command:
            now = datetime.now(UTC)
            return Command(
                id=uuid.uuid4(),
                kind=CommandKind.lane_ticket,
                site="lot",
                lane=lane,
                payload={"ticket": "NP7K3Q9XAB", "issued_at": now.isoformat()},
                issued_at=now,
                expires_at=now + timedelta(minutes=1),
            )

        await commands.handle(ticket("p-in"))
        await entry.barrier.wait_opens(1)
        await commands.handle(ticket("p-out"))
        assert exit_.barrier.opens == 0
        events = await r.store.pending(100, 1_000_000)
        (issued,) = [e for e in events if e.type == "parking.no_plate_ticket"]
        (assessed,) = [e for e in events if e.type == "parking.fee_assessed"]
        assert assessed.payload["session"] == issued.payload["session"]
        assert assessed.payload["plate"] == "NP7K3Q9XAB" and assessed.payload["due_fen"] == 500
        now = datetime.now(UTC)
        paid = Command(
            id=uuid.uuid4(),
            kind=CommandKind.lane_paid,
            site="lot",
            lane="p-out",
            payload={
                "session": issued.payload["session"],
                "payment": str(uuid.uuid4()),
                "amount_fen": 500,
                "paid_at": now.isoformat(),
            },
            issued_at=now,
            expires_at=now + timedelta(minutes=5),
        )
        await commands.handle(paid)
        await exit_.barrier.wait_opens(1)
        lots = r.app[LANES].lots
        assert "p-out" not in lots.holds
        unknown = ticket("p-out")
        await commands.handle(unknown)
        assert exit_.barrier.opens == 1, "a ticket already out opens nothing"
