"""What one parking ingest batch has looked up.

An offline day arrives as thousands of events of one tenant, and a query per event for the
same rows (tariffs, the calendar, the tenant's special plates and monthly passes, a site's white
list, the batch's orders and their arrears) was most of the ingest's time. Inside
`batch_memo()` such lookups are made once; nothing they hold changes during a batch except
orders and arrears, which the ingest keeps in the memo as it writes them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, cast

T = TypeVar("T")
_memo: ContextVar[dict[tuple[Any, ...], Any] | None] = ContextVar("parking_memo", default=None)


@contextmanager
def batch_memo() -> Iterator[dict[tuple[Any, ...], Any]]:
    memo: dict[tuple[Any, ...], Any] = {}
    token = _memo.set(memo)
    try:
        yield memo
    finally:
        _memo.reset(token)


def memo() -> dict[tuple[Any, ...], Any] | None:
    return _memo.get()


async def remembered(key: tuple[Any, ...], make: Callable[[], Awaitable[T]]) -> T:
    """`make()`, once per batch for the same key (every time outside a batch)."""
    held = _memo.get()
    if held is None:
        return await make()
    if key not in held:
        held[key] = await make()
    return cast(T, held[key])
