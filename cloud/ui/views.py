"""The generic handlers every admin page uses: list, Excel export, form, and confirmed actions."""

from __future__ import annotations

import asyncio
import math
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime, time
from enum import Enum
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from openpyxl import Workbook
from pydantic import BaseModel, ValidationError

from cloud import i18n
from cloud.auth import Principal, principal_of, require
from cloud.crud import EXPORT_BATCH, PageParams
from cloud.errors import Conflict, Invalid, NotFound, ServiceError
from cloud.ui.layout import (
    PAGE_SIZES,
    MenuItem,
    add_menu,
    language_of,
    redirect,
    render,
    render_error,
    zone_of,
)
from cloud.ui.resources import Choices, Column, Filter, FormField, Resource
from cloud.ui.values import display, input_time, parse_local


def _strip_bad_fields(
    model: type[BaseModel], data: dict[str, Any]
) -> tuple[BaseModel, dict[str, str]]:
    """Validate; drop the fields that fail and validate again, returning their error keys."""
    errors: dict[str, str] = {}
    for _ in range(len(data) + 1):
        try:
            return model.model_validate(data), errors
        except ValidationError as exc:
            found = validation_errors(exc)
            if not found or not set(found) & set(data):
                raise
            for name, message in found.items():
                errors[name] = message
                data.pop(name, None)
    raise AssertionError("unreachable")


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """Field name -> translation key (or text) of the first error on it."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "__all__"
        kind = error["type"]
        if kind == "field_error":  # a cross-field rule naming its field (org.schemas.field_error)
            ctx = error.get("ctx", {})
            errors.setdefault(str(ctx.get("field", name)), str(ctx.get("key", "error.invalid")))
            continue
        if name in errors:
            continue
        if kind == "missing" or (error.get("input") in (None, "") and kind.endswith("_type")):
            errors[name] = "error.required"
        elif kind == "value_error":
            errors[name] = str(error.get("ctx", {}).get("error", error["msg"]))
        elif kind in ("string_too_short", "too_short") and error.get("input") in ("", []):
            errors[name] = "error.required"
        else:
            errors[name] = f"error.pydantic.{kind}"
    return errors


def error_text(key: str, lang: str, ctx: Mapping[str, Any] | None = None) -> str:
    """Translate an error key; keys this catalogue lacks fall back to a generic message."""
    if i18n.has(key):
        return i18n.t(key, lang, **(ctx or {}))
    if key.startswith("error.pydantic."):
        return i18n.t("error.invalid", lang)
    return key


def query_params(request: web.Request, resource: Resource) -> PageParams:
    query = request.query
    try:
        page = max(1, int(query.get("page", "1")))
    except ValueError:
        page = 1
    try:
        size = int(query.get("page_size", "20"))
    except ValueError:
        size = 20
    if size not in PAGE_SIZES:
        size = 20
    return PageParams(
        page=page, page_size=size, sort=query.get("sort", ""), desc=query.get("desc") == "1"
    )


def _filter_data(request: web.Request, resource: Resource) -> dict[str, Any]:
    zone = zone_of(request)
    data: dict[str, Any] = {}
    for spec in resource.filters:
        raw = request.query.get(spec.name, "").strip()
        if not raw:
            continue
        if spec.kind == "datetime":
            try:
                data[spec.name] = parse_local(raw, zone)
            except ValueError:
                data[spec.name] = raw  # the schema refuses it and names the field
        else:
            data[spec.name] = raw
    return data


def _form_data(
    form: Mapping[str, Any], fields: Sequence[FormField], zone: ZoneInfo, model: type[BaseModel]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(data for the schema, raw values to show again); a blank optional field means None."""
    data: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for spec in fields:
        if spec.kind == "checkbox":
            data[spec.name] = spec.name in form
            shown[spec.name] = data[spec.name]
            continue
        if spec.kind == "checkboxes":
            getall = getattr(form, "getall", None)
            values = [str(v) for v in getall(spec.name, [])] if getall else []
            data[spec.name] = values
            shown[spec.name] = values
            continue
        raw = str(form.get(spec.name, ""))
        shown[spec.name] = "" if spec.kind == "password" else raw
        declared = model.model_fields.get(spec.name)
        if not raw.strip():
            # Blank: an optional field takes its default; a required one is reported as missing.
            if declared is not None and not declared.is_required():
                data[spec.name] = declared.get_default(call_default_factory=True)
            else:
                data[spec.name] = "" if spec.kind in ("text", "textarea") else None
        elif spec.kind == "datetime":
            try:
                data[spec.name] = parse_local(raw, zone)
            except ValueError:
                data[spec.name] = raw
        else:
            data[spec.name] = raw
    return data, shown


def _values_of(row: BaseModel, fields: Sequence[FormField], zone: ZoneInfo) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for spec in fields:
        value = getattr(row, spec.name, None)
        if spec.kind == "checkbox":
            values[spec.name] = bool(value)
        elif spec.kind == "checkboxes":
            values[spec.name] = [str(v.value if isinstance(v, Enum) else v) for v in value or []]
        elif spec.kind == "datetime":
            values[spec.name] = input_time(value, zone)
        elif spec.kind == "time" and isinstance(value, time):
            values[spec.name] = value.strftime("%H:%M")
        elif spec.kind == "password" or value is None:
            values[spec.name] = ""
        else:
            values[spec.name] = str(value.value if isinstance(value, Enum) else value)
    return values


# --- handlers -----------------------------------------------------------------------------


def _url(path: str, query: Mapping[str, Any]) -> str:
    clean = {k: v for k, v in query.items() if v not in ("", None)}
    return f"{path}?{urlencode(clean)}" if clean else path


def _crumbs(resource: Resource, *more: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [("menu.home", "/"), (resource.group, None), (resource.title, resource.path), *more]


async def _choices(
    specs: Sequence[Filter] | Sequence[FormField], principal: Principal, lang: str
) -> dict[str, Choices]:
    return {s.name: await s.choices(principal, lang) for s in specs if s.choices is not None}


def _row_id(request: web.Request) -> int:
    return int(request.match_info["id"])


ExtraContext = Callable[[web.Request, Principal], Awaitable[dict[str, Any]]]
CellText = Callable[[Any, Column, str, ZoneInfo], str]


def cell_text(item: Any, column: Column, lang: str, zone: ZoneInfo) -> str:
    return display(getattr(item, column.name, None), column.kind, lang, zone, column.prefix)


def list_view(
    resource: Resource,
    template: str = "list.html",
    extra: ExtraContext | None = None,
    cell: CellText = cell_text,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The list page of `resource`: filters, sorting, pagination. A domain page that shows more
    (its own template extending list.html) passes `template` and the `extra` context it needs;
    each row carries its `item` for such templates, and `cell` writes a domain's own column
    kinds."""

    @require(resource.view_permission)
    async def handler(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        lang = language_of(request)
        zone = zone_of(request)
        params = query_params(request, resource)
        filters, filter_errors = _strip_bad_fields(
            resource.filter_model, _filter_data(request, resource)
        )
        page = await resource.crud.list(principal, filters, params)
        pages = max(1, math.ceil(page.total / page.page_size))
        state = {
            **{f.name: request.query.get(f.name, "") for f in resource.filters},
            "sort": params.sort,
            "desc": "1" if params.desc else "",
            "page_size": params.page_size if params.page_size != 20 else "",
        }
        rows = [
            {
                "id": getattr(item, "id", None),
                "enabled": getattr(item, "enabled", None),
                "item": item,
                "cells": [cell(item, c, lang, zone) for c in resource.columns],
            }
            for item in page.items
        ]
        context: dict[str, Any] = {
            "resource": resource,
            "rows": rows,
            "page": page,
            "pages": pages,
            "params": params,
            "state": state,
            "page_sizes": PAGE_SIZES,
            "url": _url,
            "choices": await _choices(resource.filters, principal, lang),
            "filter_errors": filter_errors,
            "can_edit": principal.can(resource.edit_permission),
            "crumbs": _crumbs(resource),
            "error_text": error_text,
        }
        if extra is not None:
            context.update(await extra(request, principal))
        return render(request, template, context)

    return handler


async def export_rows(
    resource: Resource, principal: Principal, filters: BaseModel, sort: PageParams
) -> AsyncIterator[Any]:
    """Every row of the filtered list, page by page, up to the resource's export limit."""
    sent = 0
    page_no = 1
    while sent < resource.export_limit:
        params = sort.model_copy(update={"page": page_no, "page_size": EXPORT_BATCH})
        page = await resource.crud.list(principal, filters, params)
        for item in page.items[: resource.export_limit - sent]:
            yield item
            sent += 1
        if len(page.items) < EXPORT_BATCH:
            return
        page_no += 1


def _excel_value(value: Any, column: Column, lang: str, zone: ZoneInfo) -> Any:
    if column.kind == "datetime" and isinstance(value, datetime):
        return value.astimezone(zone).replace(tzinfo=None)  # Excel has no time zones
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return display(value, column.kind, lang, zone, column.prefix)


def export_view(resource: Resource) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    @require(resource.view_permission)
    async def handler(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        lang = language_of(request)
        zone = zone_of(request)
        params = query_params(request, resource)
        filters, _ = _strip_bad_fields(resource.filter_model, _filter_data(request, resource))
        # write_only keeps memory flat: rows go to a temporary file as they are appended.
        book = Workbook(write_only=True)
        sheet = book.create_sheet(i18n.t(resource.title, lang)[:31])
        sheet.append([i18n.t(c.label, lang) for c in resource.columns])
        async for item in export_rows(resource, principal, filters, params):
            sheet.append(
                [_excel_value(getattr(item, c.name, None), c, lang, zone) for c in resource.columns]
            )
        stamp = datetime.now(zone).strftime("%Y%m%d-%H%M")
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "Content-Disposition": f'attachment; filename="{resource.name}-{stamp}.xlsx"',
            }
        )
        with tempfile.NamedTemporaryFile(suffix=".xlsx") as spool:
            await asyncio.to_thread(book.save, spool.name)
            await response.prepare(request)
            with open(spool.name, "rb") as source:  # noqa: ASYNC230 - local temp file, small reads
                while chunk := source.read(64 * 1024):
                    await response.write(chunk)
        await response.write_eof()
        return response

    return handler


async def _render_form(
    request: web.Request,
    resource: Resource,
    *,
    mode: Literal["create", "update"],
    values: Mapping[str, Any],
    errors: Mapping[str, str],
    row_id: int | None = None,
    row_label: str = "",
    status: int = 200,
) -> web.Response:
    principal = principal_of(request)
    lang = language_of(request)
    fields = [f for f in resource.fields if f.on in ("both", mode)]
    action = f"{resource.path}/new" if row_id is None else f"{resource.path}/{row_id}/edit"
    crumb = ("common.new", None) if row_id is None else (row_label, None)
    return render(
        request,
        "form.html",
        {
            "resource": resource,
            "fields": fields,
            "values": values,
            "errors": {k: error_text(v, lang) for k, v in errors.items()},
            "choices": await _choices(fields, principal, lang),
            "action": action,
            "mode": mode,
            "row_label": row_label,
            "crumbs": _crumbs(resource, crumb),
        },
        status=status,
    )


async def _save(
    request: web.Request,
    resource: Resource,
    mode: Literal["create", "update"],
    row_id: int | None,
    row_label: str,
) -> web.StreamResponse:
    principal = principal_of(request)
    zone = zone_of(request)
    fields = [f for f in resource.fields if f.on in ("both", mode)]
    form = await request.post()
    model = resource.create_model if mode == "create" else resource.update_model
    assert model is not None
    data, shown = _form_data(form, fields, zone, model)
    errors: dict[str, str] = {}
    try:
        payload = model.model_validate(data)
        if mode == "create":
            assert resource.crud.create is not None
            await resource.crud.create(principal, payload)
        else:
            assert resource.crud.update is not None and row_id is not None
            await resource.crud.update(principal, row_id, payload)
    except ValidationError as exc:
        errors = validation_errors(exc)
    except (Invalid, Conflict) as exc:
        errors = {exc.field: exc.message}
    if errors:
        # A field the form does not show still gets its message, at the top.
        names = {f.name for f in fields}
        loose = {k: v for k, v in errors.items() if k not in names}
        if loose:
            errors["__all__"] = "; ".join(f"{k}: {v}" for k, v in loose.items())
        return await _render_form(
            request,
            resource,
            mode=mode,
            values=shown,
            errors=errors,
            row_id=row_id,
            row_label=row_label,
            status=400,
        )
    raise redirect(resource.path, "flash.saved")


def form_view(
    resource: Resource, mode: Literal["create", "update"]
) -> tuple[Callable[[web.Request], Awaitable[web.StreamResponse]], ...]:
    """The GET (show) and POST (save) handlers of the create or edit form."""

    @require(resource.edit_permission)
    async def show(request: web.Request) -> web.StreamResponse:
        zone = zone_of(request)
        fields = [f for f in resource.fields if f.on in ("both", mode)]
        if mode == "create":
            defaults = resource.create_model.model_construct() if resource.create_model else None
            values = {
                f.name: _values_of(defaults, [f], zone)[f.name] if defaults else "" for f in fields
            }
            return await _render_form(request, resource, mode=mode, values=values, errors={})
        assert resource.crud.get is not None
        row_id = _row_id(request)
        try:
            row = await resource.crud.get(principal_of(request), row_id)
        except NotFound:
            return render_error(request, 404, "error.not_found")
        return await _render_form(
            request,
            resource,
            mode=mode,
            values=_values_of(row, fields, zone),
            errors={},
            row_id=row_id,
            row_label=resource.label_of(row),
        )

    @require(resource.edit_permission)
    async def save(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        row_id, label = None, ""
        try:
            if mode == "update":
                assert resource.crud.get is not None
                row_id = _row_id(request)
                # Fetch first: another tenant's id is a 404 before any input is looked at.
                label = resource.label_of(await resource.crud.get(principal, row_id))
            return await _save(request, resource, mode, row_id, label)
        except NotFound:
            return render_error(request, 404, "error.not_found")

    return show, save


def action_view(
    resource: Resource,
) -> tuple[Callable[[web.Request], Awaitable[web.StreamResponse]], ...]:
    """Enable, disable and delete: GET asks for confirmation, POST does it."""

    @require(resource.edit_permission)
    async def confirm(request: web.Request) -> web.StreamResponse:
        assert resource.crud.get is not None
        action = request.match_info["action"]
        try:
            row = await resource.crud.get(principal_of(request), _row_id(request))
        except NotFound:
            return render_error(request, 404, "error.not_found")
        return render(
            request,
            "confirm.html",
            {
                "resource": resource,
                "action": action,
                "row_label": resource.label_of(row),
                "target": request.path,
                "crumbs": _crumbs(resource, (resource.label_of(row), None)),
            },
        )

    @require(resource.edit_permission)
    async def act(request: web.Request) -> web.StreamResponse:
        principal = principal_of(request)
        action = request.match_info["action"]
        row_id = _row_id(request)
        try:
            if action == "delete":
                assert resource.crud.delete is not None
                await resource.crud.delete(principal, row_id)
            else:
                assert resource.crud.set_enabled is not None
                await resource.crud.set_enabled(principal, row_id, action == "enable")
        except NotFound:
            return render_error(request, 404, "error.not_found")
        except ServiceError as exc:
            message = getattr(exc, "message", "error.invalid")
            key = message if i18n.has(message) else "error.invalid"
            raise redirect(resource.path, key, "error") from exc
        raise redirect(resource.path, f"flash.{action}d" if action != "delete" else "flash.deleted")

    return confirm, act


def mount_routes(
    app: web.Application,
    resource: Resource,
    list_handler: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None,
) -> None:
    """A resource's list (the shared page unless `list_handler`), export, create and edit
    forms and row actions; the caller adds its menu entries."""
    router = app.router
    name, path, one = resource.name, resource.path, f"{resource.path}/{{id:\\d+}}"
    router.add_get(path, list_handler or list_view(resource), name=f"{name}.list")
    if resource.export:
        router.add_get(f"{path}/export.xlsx", export_view(resource), name=f"{name}.export")
    if resource.crud.create is not None:
        show, save = form_view(resource, "create")
        router.add_get(f"{path}/new", show, name=f"{name}.new")
        router.add_post(f"{path}/new", save)
    if resource.crud.update is not None:
        show, save = form_view(resource, "update")
        router.add_get(f"{one}/edit", show, name=f"{name}.edit")
        router.add_post(f"{one}/edit", save)
    if resource.actions:
        confirm, act = action_view(resource)
        actions = f"{one}/{{action:(?:{'|'.join(resource.actions)})}}"
        router.add_get(actions, confirm, name=f"{name}.confirm")
        router.add_post(actions, act)


def mount(app: web.Application, resource: Resource) -> None:
    """Add a resource's routes and its menu entries."""
    mount_routes(app, resource)
    entries = resource.menu if resource.menu is not None else ((resource.title, resource.path),)
    for offset, (label, path) in enumerate(entries):
        add_menu(
            app,
            MenuItem(
                resource.group, label, path, resource.view_permission, resource.menu_order + offset
            ),
        )
