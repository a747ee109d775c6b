"""Commands from the cloud, executed at most once and never after they expire.

The cloud redelivers a command until it has seen its `command.result` event, so the same
command can arrive many times, before and after a restart. The store's `command` table makes
the second delivery a no-op: a command is marked `started` (durably) before its device is
driven, and its final state is written in the transaction of its result event. A command
found `started` on arrival was interrupted by a restart: it is reported failed, not re-run,
because whether the device acted cannot be known.

Kinds other than open_barrier are served by handlers registered per kind (`register`): the
OCPP central system registers every charger_* kind. A handler returns the result's detail
(the device's answer) or raises CommandFailed. Handlers that talk to a remote device over a
slow link run in the background (`dispatch`), so one silent charger never holds up sync.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from edge.drivers.modbus import DeviceError
from edge.lanes import Lanes
from edge.lots import CommandRefused
from edge.store import Store
from protocols.events import AccessDecided, CommandResult, CommandStatus, Method, Reason, Verdict
from protocols.sync import Command, CommandKind

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the edge stopped while executing it; not run again"


class CommandFailed(Exception):
    """The command could not be carried out; the message is the result's detail."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


CommandHandler = Callable[[Command], Awaitable[str]]


def _lot_handler(handler: CommandHandler) -> CommandHandler:
    """A lot's handler, its refusals reported as the command's failure."""

    async def run(command: Command) -> str:
        try:
            return await handler(command)
        except CommandRefused as exc:
            raise CommandFailed(str(exc)) from None

    return run


class Commands:
    def __init__(
        self, store: Store, lanes: Lanes | None, now: Callable[[], datetime] = _utc_now
    ) -> None:
        self._store = store
        self._lanes = lanes
        self._now = now
        self._running: set[str] = set()
        self._handlers: dict[CommandKind, CommandHandler] = {}
        self._tasks: set[asyncio.Task[CommandStatus | None]] = set()
        self.executed = 0  # device actions taken (tests, health)
        if lanes is not None:  # parking lots: payments and no-plate tickets (edge/lots.py)
            self.register(CommandKind.lane_paid, _lot_handler(lanes.lots.lane_paid))
            self.register(CommandKind.lane_ticket, _lot_handler(lanes.lots.lane_ticket))

    def register(self, kind: CommandKind, handler: CommandHandler) -> None:
        """Serve `kind` with handler: it returns the result's detail or raises CommandFailed."""
        self._handlers[kind] = handler

    def handles_in_background(self, command: Command) -> bool:
        return command.kind in self._handlers

    async def dispatch(self, command: Command) -> bool:
        """Handle a command in a background task; False when it is being handled or was
        handled already (a redelivery is not news)."""
        key = str(command.id)
        if key in self._running:
            return False
        state = await self._store.command_state(key)
        if state is not None and state != "started":
            return False
        task = asyncio.create_task(self.handle(command), name=f"command {command.id}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return True

    def _done(self, task: asyncio.Task[CommandStatus | None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("command task failed", exc_info=task.exception())

    async def stop(self) -> None:
        """Cancel commands still running (the edge is stopping; they are reported interrupted
        when the cloud delivers them again)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def handle(self, command: Command) -> CommandStatus | None:
        """Execute a command unless it was seen before; returns the status it recorded now, or
        None when this delivery changed nothing (a duplicate)."""
        key = str(command.id)
        if key in self._running:
            return None
        self._running.add(key)
        try:
            state = await self._store.command_state(key)
            if state is not None and state != "started":
                return None  # already done, failed or expired: the result is in the outbox
            if state == "started":
                return await self._finish(command, CommandStatus.failed, INTERRUPTED)
            if self._now() >= command.expires_at:
                late = self._now() - command.expires_at
                detail = f"expired {late.total_seconds():.0f} s before it reached the edge"
                return await self._finish(command, CommandStatus.expired, detail)
            try:
                target = self._check(command)
            except CommandFailed as exc:
                return await self._finish(command, CommandStatus.failed, str(exc))
            await self._store.start_command(key)
            try:
                detail = await target()
            except CommandFailed as exc:
                return await self._finish(command, CommandStatus.failed, str(exc))
            self.executed += 1
            return await self._finish(command, CommandStatus.done, detail, self._override(command))
        finally:
            self._running.discard(key)

    def _check(self, command: Command) -> Callable[[], Awaitable[str]]:
        """What to run for this command, or CommandFailed before anything is touched."""
        handler = self._handlers.get(command.kind)
        if handler is not None:

            async def run() -> str:
                assert handler is not None
                return await handler(command)

            return run
        if command.kind != CommandKind.open_barrier:
            raise CommandFailed(f"command kind {command.kind!r} is not supported by this edge")
        lane = self._lanes.lanes.get(command.lane) if self._lanes is not None else None
        if lane is None or lane.site.code != command.site:
            raise CommandFailed(f"site {command.site!r} has no lane {command.lane!r} on this edge")
        barrier = lane.barrier
        if barrier is None:
            raise CommandFailed(
                f"lane {command.lane!r} has no barrier the edge drives"
                f" ({lane.config.wiring.value} wiring): open it at the lane"
            )

        async def open_barrier() -> str:
            try:
                await barrier.open()
            except DeviceError as exc:
                raise CommandFailed(str(exc)) from None
            return ""

        return open_barrier

    def _override(self, command: Command) -> AccessDecided | None:
        """The access record of a barrier a staff member opened from the cloud (an override)."""
        if command.kind != CommandKind.open_barrier:
            return None
        lane = self._lanes.lanes.get(command.lane) if self._lanes is not None else None
        if lane is None:
            return None
        return AccessDecided(
            site=lane.site.code,
            gate=lane.gate.code,
            lane=lane.code,
            direction=lane.config.direction,
            plate="",
            confidence=0,
            verdict=Verdict.open,
            reason=Reason.override,
            method=Method.override,
            rule=str(command.id),
            read_at=self._now(),
        )

    async def _finish(
        self,
        command: Command,
        status: CommandStatus,
        detail: str,
        access: AccessDecided | None = None,
    ) -> CommandStatus:
        result = CommandResult(
            command=command.id,
            kind=command.kind.value,
            site=command.site,
            lane=command.lane,
            status=status,
            detail=detail,
        )
        await self._store.finish_command(result, access)
        log_at = logging.INFO if status == CommandStatus.done else logging.WARNING
        log.log(
            log_at,
            "command %s (%s %s): %s %s",
            command.id,
            command.kind,
            command.lane,
            status.value,
            detail,
        )
        return status
