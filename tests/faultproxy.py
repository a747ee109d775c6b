"""An HTTP proxy for tests that sits between edge and cloud on loopback and misbehaves on purpose:
it drops requests, loses answers the cloud already acted on, delays, sends requests twice,
cuts answers off mid-body, and can cut the link altogether (a partition)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

HOP_BY_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class Faults:
    """Chances per request, each in 0..1; `down` cuts every connection (a partition)."""

    drop: float = 0.0  # closed before the cloud sees it
    lose_answer: float = 0.0  # the cloud acts, the edge never hears
    duplicate: float = 0.0  # the cloud gets it twice; the edge sees the second answer
    cut_answer: float = 0.0  # the answer stops halfway through its body
    delay: float = 0.0
    max_delay_s: float = 0.3
    down: bool = False


@dataclass
class FaultProxy:
    target: str
    faults: Faults = field(default_factory=Faults)
    seed: int = 7
    seen: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _roll(self, chance: float) -> bool:
        return chance > 0 and self._rng.random() < chance

    async def _forward(
        self, request: web.Request, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with self._session.request(
            request.method, self.target + request.path_qs, data=body, headers=headers
        ) as resp:
            answer = await resp.read()
            kept = {k: v for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP}
            return resp.status, kept, answer

    def _hang_up(self, request: web.Request, what: str) -> web.Response:
        self.seen[what] += 1
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=499)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        faults = self.faults
        if faults.down:
            return self._hang_up(request, "partition")
        if self._roll(faults.drop):
            return self._hang_up(request, "drop")
        if self._roll(faults.delay):
            self.seen["delay"] += 1
            await asyncio.sleep(self._rng.uniform(0, faults.max_delay_s))
        try:
            status, headers, answer = await self._forward(request, body)
            if self._roll(faults.duplicate):
                self.seen["duplicate"] += 1
                status, headers, answer = await self._forward(request, body)
        except aiohttp.ClientError:
            return self._hang_up(request, "cloud unreachable")
        if self._roll(faults.lose_answer):
            return self._hang_up(request, "lose_answer")
        if self._roll(faults.cut_answer) and len(answer) > 1:
            self.seen["cut_answer"] += 1
            response = web.StreamResponse(status=status, headers=headers)
            response.content_length = len(answer)
            await response.prepare(request)
            await response.write(answer[: len(answer) // 2])
            if request.transport is not None:
                request.transport.close()
            return response
        self.seen["forwarded"] += 1
        return web.Response(status=status, headers=headers, body=answer)
