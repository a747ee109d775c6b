"""Service providers (3.7.1) and property companies (3.7.2): who runs the stations and who owns
their premises; a disabled provider takes no new property company, a disabled property no new
station."""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from cloud.auth import Principal
from cloud.charging.models import PropertyCompany, ReviewState, ServiceProvider
from cloud.charging.station_schemas import (
    PropertyCreate,
    PropertyFilter,
    PropertyOut,
    PropertyUpdate,
    ProviderCreate,
    ProviderFilter,
    ProviderOut,
    ProviderUpdate,
)
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.errors import Invalid
from cloud.org.service import (
    audit,
    create_row,
    ensure_unique,
    get_owned,
    scoped,
    set_enabled_row,
    update_row,
)

# --- providers ------------------------------------------------------------------------------------


def _provider_out(row: ServiceProvider) -> ProviderOut:
    return ProviderOut.model_validate(row)


async def list_providers(
    principal: Principal, f: ProviderFilter, params: PageParams
) -> Page[ProviderOut]:
    query = scoped(ServiceProvider, principal)
    if f.q:
        query = query.filter(name__icontains=f.q)
    if f.phone:
        query = query.filter(phone__startswith=f.phone)
    query = where_given(query, f, "review", "enabled")
    return await paginate(
        query,
        params,
        sorts={"name": "name", "created_at": "created_at"},
        default_sort="-created_at",
        convert=_provider_out,
    )


async def get_provider(principal: Principal, ident: int) -> ProviderOut:
    return _provider_out(await get_owned(ServiceProvider, principal, ident, "provider"))


async def create_provider(principal: Principal, data: ProviderCreate) -> ProviderOut:
    """A new provider waits for review (pending)."""
    async with in_transaction():
        await ensure_unique(scoped(ServiceProvider, principal), "phone", data.phone)
        row = await create_row(principal, ServiceProvider, "provider", data.model_dump())
    return _provider_out(row)


async def update_provider(principal: Principal, ident: int, data: ProviderUpdate) -> ProviderOut:
    """Name, contact and email; the phone is the sign-in account and never changes."""
    async with in_transaction():
        row = await get_owned(ServiceProvider, principal, ident, "provider")
        await update_row(principal, row, "provider", data.model_dump())
    return _provider_out(row)


async def set_provider_enabled(principal: Principal, ident: int, enabled: bool) -> ProviderOut:
    return _provider_out(
        await set_enabled_row(principal, ServiceProvider, "provider", ident, enabled)
    )


async def review_provider(principal: Principal, ident: int, approve: bool) -> ProviderOut:
    """Approve or reject a provider (a decided review may be decided again)."""
    state = ReviewState.approved if approve else ReviewState.rejected
    async with in_transaction():
        row = await get_owned(ServiceProvider, principal, ident, "provider")
        if row.review != state:
            before = row.review
            row.review = state
            await row.save(update_fields=["review"])
            await audit(
                principal,
                "approve" if approve else "reject",
                "provider",
                ident,
                {"review": {"from": before.value, "to": state.value}},
            )
    return _provider_out(row)


async def provider_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = await scoped(ServiceProvider, principal).order_by("name").values_list("id", "name")
    return [(int(i), str(n)) for i, n in rows]


# --- property companies ---------------------------------------------------------------------------


def _property_out(row: PropertyCompany) -> PropertyOut:
    return PropertyOut(
        id=row.id,
        provider_id=row.provider_id,
        provider_name=row.provider.name,
        name=row.name,
        contact=row.contact,
        phone=row.phone,
        email=row.email,
        province=row.province,
        city=row.city,
        address=row.address,
        enabled=row.enabled,
        created_at=row.created_at,
    )


async def list_properties(
    principal: Principal, f: PropertyFilter, params: PageParams
) -> Page[PropertyOut]:
    query = scoped(PropertyCompany, principal)
    if f.q:
        query = query.filter(Q(name__icontains=f.q) | Q(contact__icontains=f.q))
    if f.phone:
        query = query.filter(phone__startswith=f.phone)
    query = where_given(query, f, "provider_id", "enabled")
    return await paginate(
        query,
        params,
        sorts={"name": "name", "created_at": "created_at"},
        default_sort="-created_at",
        convert=_property_out,
        related=("provider",),
    )


async def get_property(principal: Principal, ident: int) -> PropertyOut:
    row = await get_owned(PropertyCompany, principal, ident, "property_company")
    await row.fetch_related("provider")
    return _property_out(row)


async def create_property(principal: Principal, data: PropertyCreate) -> PropertyOut:
    async with in_transaction():
        provider = await scoped(ServiceProvider, principal).filter(id=data.provider_id).first()
        if provider is None:
            raise Invalid("provider_id", "error.reference")
        if not provider.enabled:
            raise Invalid("provider_id", "stations.error.provider_disabled")
        await ensure_unique(scoped(PropertyCompany, principal), "phone", data.phone)
        row = await create_row(principal, PropertyCompany, "property_company", data.model_dump())
    return await get_property(principal, row.id)


async def update_property(principal: Principal, ident: int, data: PropertyUpdate) -> PropertyOut:
    """Everything but the provider and the phone (the sign-in account)."""
    async with in_transaction():
        row = await get_owned(PropertyCompany, principal, ident, "property_company")
        await update_row(principal, row, "property_company", data.model_dump())
    return await get_property(principal, ident)


async def set_property_enabled(principal: Principal, ident: int, enabled: bool) -> PropertyOut:
    await set_enabled_row(principal, PropertyCompany, "property_company", ident, enabled)
    return await get_property(principal, ident)


async def property_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = (
        await scoped(PropertyCompany, principal)
        .order_by("name")
        .values_list("id", "name", "provider__name")
    )
    return [(int(i), f"{p} / {n}") for i, n, p in rows]


# --- each entity's operations, for the admin pages and the JSON API alike ----------------------

PROVIDERS = Crud(
    list=list_providers,
    get=get_provider,
    create=create_provider,
    update=update_provider,
    set_enabled=set_provider_enabled,
)
PROPERTIES = Crud(
    list=list_properties,
    get=get_property,
    create=create_property,
    update=update_property,
    set_enabled=set_property_enabled,
)
