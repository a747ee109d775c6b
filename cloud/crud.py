"""What services offer pages and the JSON API alike: pages of rows, capped counts, and each
entity's row operations as one bundle (`Crud`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel
from pydantic import Field as PydanticField
from tortoise.models import Model
from tortoise.queryset import QuerySet

if TYPE_CHECKING:
    from cloud.auth import Principal

# The largest page, and the batch in which exports walk a list.
EXPORT_BATCH = 1000

T = TypeVar("T")
M = TypeVar("M", bound=Model)


class PageParams(BaseModel):
    """Which page of a list, and in which order; `sort` must be one the list allows."""

    page: int = PydanticField(default=1, ge=1)
    page_size: int = PydanticField(default=20, ge=1, le=EXPORT_BATCH)
    sort: str = ""
    desc: bool = False


class Page(BaseModel, Generic[T]):
    """One page of a list; `total_capped` means there are at least `total` rows (counting stopped)."""

    items: list[T]
    total: int
    page: int
    page_size: int
    total_capped: bool = False


def where_given(query: QuerySet[M], given: BaseModel, *names: str) -> QuerySet[M]:
    """Equality filters for the filter fields that were given (None or "" means "any")."""
    for name in names:
        value = getattr(given, name)
        if value is not None and value != "":
            query = query.filter(**{name: value})
    return query


def within(query: QuerySet[M], field: str, start: Any | None, end: Any | None) -> QuerySet[M]:
    """Rows whose `field` lies in [start, end): the "from … to …" filter of a list; either bound
    may be missing."""
    if start is not None:
        query = query.filter(**{f"{field}__gte": start})
    if end is not None:
        query = query.filter(**{f"{field}__lt": end})
    return query


async def capped_count(query: QuerySet[M], cap: int) -> tuple[int, bool]:
    """Count at most cap+1 rows through a LIMITed subquery, so a huge table answers fast."""
    ids = query.limit(cap + 1).values_list("id", flat=True)
    # Tortoise has no public "count of a limited query"; build its SQL and wrap it.
    ids._choose_db_if_not_chosen()
    ids._make_query()
    sql, params = ids.query.get_parameterized_sql()
    rows = await ids._db.execute_query_dict(f"SELECT COUNT(*) AS n FROM ({sql}) AS capped", params)
    counted = int(rows[0]["n"])
    return (cap, True) if counted > cap else (counted, False)


async def paginate(
    query: QuerySet[M],
    params: PageParams,
    *,
    sorts: Mapping[str, str],
    default_sort: str,
    convert: Callable[[M], T],
    related: Sequence[str] = (),
    count_cap: int | None = None,
) -> Page[T]:
    """Order by a whitelisted key (unknown keys fall back to the default), count, and slice one page."""
    if count_cap is None:
        total, capped = await query.count(), False
    else:
        total, capped = await capped_count(query, count_cap)
    if params.sort in sorts:
        column = sorts[params.sort]
        order = [f"-{column}" if params.desc else column, "-id" if params.desc else "id"]
    else:
        order = [default_sort, "-id" if default_sort.startswith("-") else "id"]
    offset = (params.page - 1) * params.page_size
    if related:
        query = query.select_related(*related)
    rows = await query.order_by(*order).offset(offset).limit(params.page_size)
    return Page(
        items=[convert(row) for row in rows],
        total=total,
        page=params.page,
        page_size=params.page_size,
        total_capped=capped,
    )


@dataclass(frozen=True)
class Crud:
    """What a resource can do, as service calls; None hides the action."""

    list: Callable[[Principal, Any, PageParams], Awaitable[Page[Any]]]
    get: Callable[[Principal, int], Awaitable[Any]] | None = None
    create: Callable[[Principal, Any], Awaitable[Any]] | None = None
    update: Callable[[Principal, int, Any], Awaitable[Any]] | None = None
    set_enabled: Callable[[Principal, int, bool], Awaitable[Any]] | None = None
    delete: Callable[[Principal, int], Awaitable[None]] | None = None
