"""Identity rules of a school: which registrant kinds are open, face-photo requirements, identity types."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from cloud import i18n
from cloud.auth import Principal
from cloud.campus.models import IdentityKind, IdentitySetting, IdentityType, Registrant
from cloud.campus.registrant_schemas import (
    IdentitySettingIn,
    IdentitySettingOut,
    IdentityTypeFilter,
    IdentityTypeIn,
    IdentityTypeOut,
)
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.errors import Conflict, Invalid
from cloud.org.service import (
    create_row,
    delete_row,
    ensure_unique,
    get_owned,
    scoped,
    set_enabled_row,
    update_row,
)

KINDS = tuple(IdentityKind)
# Defaults of a school that never saved its settings: every kind open, no face photo required.
DEFAULT_SETTING = {"enabled": True, "face_required": False}


# --- settings --------------------------------------------------------------------------------


async def settings_of(tenant_id: int) -> dict[IdentityKind, IdentitySettingOut]:
    """Each kind's setting; kinds never saved take the defaults. Teachers are always open."""
    saved = {row.kind: row for row in await IdentitySetting.filter(tenant_id=tenant_id)}
    result: dict[IdentityKind, IdentitySettingOut] = {}
    for kind in KINDS:
        row = saved.get(kind)
        enabled = row.enabled if row is not None else DEFAULT_SETTING["enabled"]
        face = row.face_required if row is not None else DEFAULT_SETTING["face_required"]
        if kind == IdentityKind.teacher:
            enabled, face = True, False  # teachers' faces are set per identity type
        result[kind] = IdentitySettingOut(kind=kind, enabled=enabled, face_required=face)
    return result


async def list_settings(principal: Principal) -> list[IdentitySettingOut]:
    return list((await settings_of(principal.tenant_id)).values())


async def save_settings(
    principal: Principal, data: list[IdentitySettingIn]
) -> list[IdentitySettingOut]:
    """Open or close kinds and set their face-photo rule; the teacher kind cannot be closed."""
    for item in data:
        if item.kind == IdentityKind.teacher and not item.enabled:
            raise Invalid("enabled_teacher", "identities.error.teacher_required")
    async with in_transaction():
        for item in data:
            face = False if item.kind == IdentityKind.teacher else item.face_required
            row = await IdentitySetting.filter(
                tenant_id=principal.tenant_id, kind=item.kind
            ).first()
            if row is None:
                row = await IdentitySetting.create(
                    tenant_id=principal.tenant_id, kind=item.kind, enabled=True, face_required=False
                )
            await update_row(
                principal,
                row,
                "identity_setting",
                {"enabled": item.enabled, "face_required": face},
            )
    return await list_settings(principal)


async def enabled_kinds(tenant_id: int) -> set[IdentityKind]:
    return {kind for kind, s in (await settings_of(tenant_id)).items() if s.enabled}


async def check_kind_open(tenant_id: int, kind: IdentityKind, field: str = "kind") -> None:
    """A registrant may only be of a kind the school has opened."""
    if kind not in await enabled_kinds(tenant_id):
        raise Invalid(field, "registrants.error.kind_closed")


async def face_required(tenant_id: int, kind: IdentityKind, identity_type_id: int | None) -> bool:
    """Must this registrant upload a face photo: per identity type for teachers, per kind else."""
    if kind == IdentityKind.teacher:
        if identity_type_id is None:
            return False
        row = await IdentityType.filter(tenant_id=tenant_id, id=identity_type_id).first()
        return bool(row and row.face_required)
    return (await settings_of(tenant_id))[kind].face_required


# --- identity types --------------------------------------------------------------------------


def _type_out(row: IdentityType) -> IdentityTypeOut:
    return IdentityTypeOut.model_validate(row)


async def list_types(
    principal: Principal, f: IdentityTypeFilter, params: PageParams
) -> Page[IdentityTypeOut]:
    query = scoped(IdentityType, principal)
    if f.q:
        query = query.filter(name__icontains=f.q)
    query = where_given(query, f, "kind", "enabled")
    return await paginate(
        query,
        params,
        sorts={"name": "name", "kind": "kind", "created_at": "created_at"},
        default_sort="kind",
        convert=_type_out,
    )


async def get_type(principal: Principal, ident: int) -> IdentityTypeOut:
    return _type_out(await get_owned(IdentityType, principal, ident, "identity_type"))


async def _check_type(principal: Principal, data: IdentityTypeIn, ident: int | None) -> None:
    same_kind = scoped(IdentityType, principal).filter(kind=data.kind)
    await ensure_unique(same_kind, "name", data.name, ident)
    if ident is not None:
        used_elsewhere = (
            scoped(Registrant, principal)
            .filter(identity_type_id=ident)
            .exclude(kind=data.kind)
            .exists()
        )
        if await used_elsewhere:
            raise Invalid("kind", "identities.error.type_kind_in_use")


async def create_type(principal: Principal, data: IdentityTypeIn) -> IdentityTypeOut:
    async with in_transaction():
        await _check_type(principal, data, None)
        row = await create_row(
            principal,
            IdentityType,
            "identity_type",
            {**data.model_dump(), "operator": principal.account},
        )
    return _type_out(row)


async def update_type(principal: Principal, ident: int, data: IdentityTypeIn) -> IdentityTypeOut:
    async with in_transaction():
        row = await get_owned(IdentityType, principal, ident, "identity_type")
        await _check_type(principal, data, ident)
        await update_row(principal, row, "identity_type", data.model_dump())
    return _type_out(row)


async def set_type_enabled(principal: Principal, ident: int, enabled: bool) -> IdentityTypeOut:
    return _type_out(
        await set_enabled_row(principal, IdentityType, "identity_type", ident, enabled)
    )


async def _type_unused(row: IdentityType) -> None:
    if await Registrant.filter(identity_type_id=row.id).exists():
        raise Conflict("id", "error.in_use")


async def delete_type(principal: Principal, ident: int) -> None:
    await delete_row(principal, IdentityType, "identity_type", ident, before=_type_unused)


async def check_type_of_kind(
    principal: Principal, kind: IdentityKind, identity_type_id: int | None
) -> None:
    """The identity type named in input is this school's, enabled, and belongs to the kind."""
    if identity_type_id is None:
        return
    row = await scoped(IdentityType, principal).filter(id=identity_type_id).first()
    if row is None:
        raise Invalid("identity_type_id", "error.reference")
    if row.kind != kind:
        raise Invalid("identity_type_id", "registrants.error.type_other_kind")


async def type_choices(principal: Principal, lang: str) -> list[tuple[str, str]]:
    """Identity types labelled "kind / name", for selects."""
    rows = await scoped(IdentityType, principal).order_by("kind", "name")
    return [
        (str(row.id), f"{i18n.t(f'registrants.kind.{row.kind.value}', lang)} / {row.name}")
        for row in rows
    ]


async def kind_choices(principal: Principal, lang: str) -> list[tuple[str, str]]:
    """The kinds the school has open (for forms)."""
    open_kinds = await enabled_kinds(principal.tenant_id)
    return [
        (kind.value, i18n.t(f"registrants.kind.{kind.value}", lang))
        for kind in KINDS
        if kind in open_kinds
    ]


IDENTITY_TYPES = Crud(
    list=list_types,
    get=get_type,
    create=create_type,
    update=update_type,
    set_enabled=set_type_enabled,
    delete=delete_type,
)
