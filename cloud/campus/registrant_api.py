"""JSON routes under /api/v1 for identity settings and types, registrants, their access rules,
and Excel imports (multipart upload, results, rejected rows).

The blank templates are plain downloads of the admin pages (/imports/templates/<kind>.xlsx): every
parameter-free GET of this API answers JSON."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from cloud.api import ApiRoute, crud_routes, path_id
from cloud.auth import Principal
from cloud.campus import identities, imports, registrants
from cloud.campus import registrant_schemas as s
from cloud.campus import texts_registrants as _texts  # noqa: F401 - registers the texts
from cloud.campus.models import ImportKind
from cloud.errors import Invalid

PERMS = ("campus.view", "campus.edit")
VIEW, EDIT = PERMS
TAGS = ("campus",)


async def get_identity_settings(
    principal: Principal, request: web.Request
) -> list[s.IdentitySettingOut]:
    return await identities.list_settings(principal)


async def put_identity_settings(
    principal: Principal, request: web.Request, body: s.IdentitySettingsIn
) -> list[s.IdentitySettingOut]:
    return await identities.save_settings(principal, body.settings)


async def unbind_registrant(principal: Principal, request: web.Request) -> s.RegistrantOut:
    return await registrants.unbind(principal, path_id(request))


async def authorise_registrant(principal: Principal, request: web.Request) -> s.RegistrantOut:
    return await registrants.set_visitor_authorised(principal, path_id(request), True)


async def unauthorise_registrant(principal: Principal, request: web.Request) -> s.RegistrantOut:
    return await registrants.set_visitor_authorised(principal, path_id(request), False)


async def authorise_all_teachers(principal: Principal, request: web.Request) -> s.AuthoriseResult:
    return s.AuthoriseResult(authorised=await registrants.authorise_all_teachers(principal))


async def get_registrant_rules(
    principal: Principal, request: web.Request
) -> list[s.RegistrantRuleOut]:
    return await registrants.list_rules(principal, path_id(request))


async def put_registrant_rules(
    principal: Principal, request: web.Request, body: s.RegistrantRulesIn
) -> list[s.RegistrantRuleOut]:
    return await registrants.replace_rules(principal, path_id(request), body.rules)


async def bulk_registrant_rules(
    principal: Principal, request: web.Request, body: s.BulkRuleIn
) -> s.BulkResult:
    return s.BulkResult(affected=await registrants.bulk_rules(principal, body))


def _xlsx(name: str, data: bytes) -> web.Response:
    ascii_name = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return web.Response(
        body=data,
        headers={
            "Content-Type": imports.XLSX_TYPE,
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
            ),
        },
    )


async def import_rejects(principal: Principal, request: web.Request) -> web.Response:
    name, data = await imports.job_rejects(principal, path_id(request))
    return _xlsx(name, data)


async def upload_import(principal: Principal, request: web.Request) -> s.ImportJobOut:
    """multipart/form-data with `kind` (registrants | vehicles) and `file` (the .xlsx)."""
    if request.content_type != "multipart/form-data":
        raise Invalid("file", "imports.error.no_file")
    form = await request.post()
    try:
        kind = ImportKind(str(form.get("kind", ImportKind.registrants.value)))
    except ValueError:
        raise Invalid("kind", "error.invalid") from None
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise Invalid("file", "imports.error.no_file")
    return await imports.run_import(principal, kind, upload.filename, upload.file.read())


ROUTES: list[ApiRoute] = [
    ApiRoute("GET", "/identity-settings", get_identity_settings, "Each identity kind: open, face photo required", VIEW, response=list[s.IdentitySettingOut], tags=TAGS),
    ApiRoute("PUT", "/identity-settings", put_identity_settings, "Open or close identity kinds (teacher stays open)", EDIT, body=s.IdentitySettingsIn, response=list[s.IdentitySettingOut], tags=TAGS),
    *crud_routes("/identity-types", "campus", PERMS, identities.IDENTITY_TYPES, s.IdentityTypeOut, s.IdentityTypeFilter, s.IdentityTypeIn, s.IdentityTypeIn),
    ApiRoute("POST", "/registrants/authorise-teachers", authorise_all_teachers, "Authorise every teacher to receive visitors", EDIT, response=s.AuthoriseResult, tags=TAGS),
    ApiRoute("POST", "/registrants/bulk-rules", bulk_registrant_rules, "Replace, add or clear the access rules of every registrant a filter matches", EDIT, body=s.BulkRuleIn, response=s.BulkResult, tags=TAGS),
    *crud_routes("/registrants", "campus", PERMS, registrants.REGISTRANTS, s.RegistrantOut, s.RegistrantFilter, s.RegistrantIn, s.RegistrantIn),
    ApiRoute("POST", "/registrants/{id}/unbind", unbind_registrant, "Unbind the registrant's WeChat (signs the phone out)", EDIT, response=s.RegistrantOut, tags=TAGS),
    ApiRoute("POST", "/registrants/{id}/authorise", authorise_registrant, "Let a teacher receive visitors", EDIT, response=s.RegistrantOut, tags=TAGS),
    ApiRoute("POST", "/registrants/{id}/unauthorise", unauthorise_registrant, "Withdraw a teacher's visitor authorisation", EDIT, response=s.RegistrantOut, tags=TAGS),
    ApiRoute("GET", "/registrants/{id}/rules", get_registrant_rules, "A registrant's access rules", VIEW, response=list[s.RegistrantRuleOut], tags=TAGS),
    ApiRoute("PUT", "/registrants/{id}/rules", put_registrant_rules, "Replace a registrant's access rules (empty: no gate)", EDIT, body=s.RegistrantRulesIn, response=list[s.RegistrantRuleOut], tags=TAGS),
    ApiRoute("POST", "/imports", upload_import, "Import an .xlsx (multipart/form-data: kind, file); the job says what became of each row", EDIT, response=s.ImportJobOut, status=201, tags=TAGS),
    *crud_routes("/imports", "campus", PERMS, imports.IMPORT_JOBS, s.ImportJobOut, s.ImportJobFilter),
    ApiRoute("GET", "/imports/{id}/rejects", import_rejects, "The rejected rows of an import with their reasons (.xlsx)", VIEW, tags=TAGS),
]  # fmt: skip
