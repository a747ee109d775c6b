"""Monthly-pass admin pages (包期管理): rules, passes (issue, edit, renew, cancel), special plates,
and the parking menu's entries for the white and black lists (the access domain's pages)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError, field_validator

from cloud import i18n, ui
from cloud.auth import SETTINGS_KEY, Handler, Principal, principal_of, require
from cloud.crud import Crud
from cloud.errors import Conflict, Invalid, NotFound
from cloud.org.schemas import In, Name
from cloud.parking import (
    clock,
    passes,
    specials,
    texts_passes,  # noqa: F401 - registers this module's texts
)
from cloud.parking.models import EnergyScope
from cloud.parking.pass_schemas import (
    MAX_MONTHS,
    PassFilter,
    PassHolderIn,
    PassIssueIn,
    PassRenewIn,
    PassRuleFilter,
    PassRuleIn,
    PassRuleOut,
    PassStatus,
    SpecialPlateFilter,
    SpecialPlateIn,
)
from cloud.ui import Column, Filter, FormField, MenuItem, Resource
from cloud.ui.layout import render_error
from cloud.ui.values import fen_of
from cloud.ui.views import (
    _choices,
    _crumbs,
    error_text,
    list_view,
    mount_routes,
    validation_errors,
)
from protocols.plates import PlateKind

GROUP = "menu.group.parking"
VIEW, EDIT = "parking.view", "parking.edit"
SITES = ui.service_choices(passes.parking_site_choices)
RULES = ui.service_choices(passes.rule_choices)
ENABLED = Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES)
ENERGY = ui.enum_choices(EnergyScope, "parking.passes.energy.")
STATUS = ui.enum_choices(PassStatus, "parking.passes.status.")
KINDS = ui.enum_choices(PlateKind, "parking.specials.kind.")


# --- rules: the form takes yuan --------------------------------------------------------------------


class PassRuleForm(In):
    """The rule form: the price in yuan as typed."""

    name: Name
    energy: EnergyScope = EnergyScope.any
    price: str = Field(min_length=1, max_length=16)
    sites: list[int] = Field(min_length=1)
    max_months: int = Field(default=12, ge=1, le=MAX_MONTHS)
    online: bool = False

    @field_validator("price")
    @classmethod
    def _yuan(cls, value: str) -> str:
        try:
            fen_of(value)
        except ValueError:
            raise ValueError("parking.passes.error.money") from None
        return value

    def as_input(self) -> PassRuleIn:
        data = self.model_dump(exclude={"price"})
        return PassRuleIn(**data, price_fen=fen_of(self.price))


async def _create_rule(principal: Principal, data: PassRuleForm) -> PassRuleOut:
    return await passes.create_rule(principal, data.as_input())


async def _update_rule(principal: Principal, ident: int, data: PassRuleForm) -> PassRuleOut:
    return await passes.update_rule(principal, ident, data.as_input())


RULES_PAGE = Resource(
    name="parking_pass_rules",
    path="/parking/pass-rules",
    title="parking.passes.rules.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=60,
    columns=(
        Column("name", "parking.passes.field.name", sort="name", link=True),
        Column(
            "energy", "parking.passes.field.energy", kind="enum", prefix="parking.passes.energy."
        ),
        Column("price", "parking.passes.field.price", sort="price"),
        Column("site_names", "parking.passes.field.sites"),
        Column("max_months", "parking.passes.field.max_months"),
        Column("online", "parking.passes.field.online", kind="bool"),
        Column("enabled", "field.enabled", kind="enabled"),
        Column("created_at", "parking.passes.field.created_at", sort="created_at", kind="datetime"),
    ),
    filter_model=PassRuleFilter,
    filters=(
        Filter("name", "parking.passes.field.name"),
        Filter("energy", "parking.passes.field.energy", "select", ENERGY),
        Filter("site_id", "parking.passes.field.site", "select", SITES),
        ENABLED,
    ),
    create_model=PassRuleForm,
    update_model=PassRuleForm,
    fields=(
        FormField("name", "parking.passes.field.name", required=True),
        FormField("energy", "parking.passes.field.energy", "select", ENERGY, required=True),
        FormField(
            "price", "parking.passes.field.price", required=True, help="parking.passes.help.price"
        ),
        FormField(
            "sites",
            "parking.passes.field.sites",
            "checkboxes",
            SITES,
            required=True,
            help="parking.passes.help.sites",
        ),
        FormField("max_months", "parking.passes.field.max_months", "number", required=True),
        FormField("online", "parking.passes.field.online", "checkbox"),
    ),
    crud=Crud(
        list=passes.list_rules,
        get=passes.get_rule,
        create=_create_rule,
        update=_update_rule,
        set_enabled=passes.set_rule_enabled,
        delete=passes.delete_rule,
    ),
    label_of=lambda row: row.name,
)


# --- passes --------------------------------------------------------------------------------------


async def _pass_for_form(principal: Principal, ident: int) -> Any:
    """The pass with its plates as the text the form edits."""
    row = await passes.get_pass(principal, ident)
    return row.model_copy(update={"plates": row.plates_text})


PASSES_PAGE = Resource(
    name="parking_passes",
    path="/parking/passes",
    title="parking.passes.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=61,
    columns=(
        Column("holder", "parking.passes.field.holder", sort="holder", link=True),
        Column("phone", "parking.passes.field.phone"),
        Column("plates_text", "parking.passes.field.plates"),
        Column("rule_name", "parking.passes.field.rule"),
        Column("valid_from", "parking.passes.field.valid_from"),
        Column("valid_until", "parking.passes.field.valid_until", sort="valid_until"),
        Column(
            "status", "parking.passes.field.status", kind="enum", prefix="parking.passes.status."
        ),
        Column("days_left", "parking.passes.field.days_left"),
        Column("paid", "parking.passes.field.paid", sort="paid"),
        Column("operator", "parking.passes.field.operator"),
        Column("issued_at", "parking.passes.field.issued_at", sort="issued_at", kind="datetime"),
    ),
    filter_model=PassFilter,
    filters=(
        Filter("holder", "parking.passes.field.holder"),
        Filter("phone", "parking.passes.field.phone"),
        Filter("plate", "parking.passes.field.plate"),
        Filter("status", "parking.passes.field.status", "select", STATUS),
        Filter("rule_id", "parking.passes.field.rule", "select", RULES),
        Filter("expiring_days", "parking.passes.field.expiring_days"),
    ),
    create_model=PassIssueIn,
    update_model=PassHolderIn,
    fields=(
        FormField(
            "rule_id",
            "parking.passes.field.rule",
            "select",
            ui.service_choices(passes.enabled_rule_choices),
            required=True,
            on="create",
        ),
        FormField("holder", "parking.passes.field.holder", required=True),
        FormField("phone", "parking.passes.field.phone", required=True),
        FormField(
            "plates",
            "parking.passes.field.plates",
            required=True,
            help="parking.passes.help.plates",
        ),
        FormField(
            "months",
            "parking.passes.field.months",
            "number",
            required=True,
            help="parking.passes.help.months",
            on="create",
        ),
        FormField(
            "starts_on",
            "parking.passes.field.starts_on",
            help="parking.passes.help.starts_on",
            on="create",
        ),
    ),
    crud=Crud(
        list=passes.list_passes,
        get=_pass_for_form,
        create=passes.issue_pass,
        update=passes.update_pass,
    ),
    label_of=lambda row: f"{row.holder} {row.plates_text}",
)


# --- special plates ------------------------------------------------------------------------------

SPECIALS_PAGE = Resource(
    name="parking_special_plates",
    path="/parking/special-plates",
    title="parking.specials.title",
    group=GROUP,
    view_permission=VIEW,
    edit_permission=EDIT,
    menu_order=64,
    columns=(
        Column("name", "parking.specials.field.name", sort="name", link=True),
        Column(
            "plate_kinds",
            "parking.specials.field.plate_kinds",
            kind="list",
            prefix="parking.specials.kind.",
        ),
        Column("pattern", "parking.specials.field.pattern"),
        Column("enabled", "field.enabled", kind="enabled"),
    ),
    filter_model=SpecialPlateFilter,
    filters=(Filter("name", "parking.specials.field.name"), ENABLED),
    create_model=SpecialPlateIn,
    update_model=SpecialPlateIn,
    fields=(
        FormField("name", "parking.specials.field.name", required=True),
        FormField("plate_kinds", "parking.specials.field.plate_kinds", "checkboxes", KINDS),
        FormField(
            "pattern", "parking.specials.field.pattern", help="parking.specials.help.pattern"
        ),
    ),
    crud=specials.SPECIALS,
    label_of=lambda row: row.name,
)


# --- actions on one row that take inputs (renew) or only a confirmation (cancel) -----------------


@dataclasses.dataclass(frozen=True)
class RowAction:
    """An action on one row: GET shows a confirmation with its inputs, POST runs it."""

    slug: str
    label: str  # translation key of the button and title
    message: str  # translation key of the confirmation, with {label}
    done: str  # translation key of the flash
    run: Callable[[Principal, int, BaseModel | None], Awaitable[Any]]
    inputs: tuple[FormField, ...] = ()
    body: type[BaseModel] | None = None
    danger: bool = False


def row_action(resource: Resource, action: RowAction) -> tuple[Handler, Handler]:
    """GET: the confirmation page; POST: validate the inputs, run, back to the list. Another
    tenant's row is a 404 before any input is read."""

    async def render(
        request: web.Request, row: Any, values: dict[str, str], errors: dict[str, str], status: int
    ) -> web.StreamResponse:
        principal = principal_of(request)
        lang = ui.language_of(request)
        label = resource.label_of(row)
        return ui.render(
            request,
            "parking/pass_action.html",
            {
                "resource": resource,
                "action": action,
                "message": i18n.t(action.message, lang, label=label),
                "target": request.path,
                "inputs": action.inputs,
                "choices": await _choices(action.inputs, principal, lang),
                "values": values,
                "errors": {k: error_text(v, lang) for k, v in errors.items()},
                "crumbs": _crumbs(resource, (label, None)),
            },
            status=status,
        )

    async def fetch(request: web.Request) -> Any:
        assert resource.crud.get is not None
        return await resource.crud.get(principal_of(request), int(request.match_info["id"]))

    @require(resource.edit_permission)
    async def confirm(request: web.Request) -> web.StreamResponse:
        try:
            row = await fetch(request)
        except NotFound:
            return render_error(request, 404, "error.not_found")
        return await render(request, row, {f.name: "" for f in action.inputs}, {}, 200)

    @require(resource.edit_permission)
    async def act(request: web.Request) -> web.StreamResponse:
        try:
            row = await fetch(request)
        except NotFound:
            return render_error(request, 404, "error.not_found")
        form = await request.post()
        values = {f.name: str(form.get(f.name, "")).strip() for f in action.inputs}
        try:
            body = action.body.model_validate(values) if action.body is not None else None
            await action.run(principal_of(request), row.id, body)
        except ValidationError as exc:
            return await render(request, row, values, validation_errors(exc), 400)
        except (Invalid, Conflict) as exc:
            return await render(request, row, values, {exc.field: exc.message}, 400)
        raise ui.redirect(resource.path, action.done)

    return confirm, act


async def _renew(principal: Principal, ident: int, body: BaseModel | None) -> Any:
    assert isinstance(body, PassRenewIn)
    return await passes.renew_pass(principal, ident, body)


async def _cancel(principal: Principal, ident: int, body: BaseModel | None) -> Any:
    return await passes.cancel_pass(principal, ident)


PASS_ACTIONS = (
    RowAction(
        "renew",
        "parking.passes.action.renew",
        "parking.passes.confirm.renew",
        "parking.passes.flash.renewed",
        _renew,
        (FormField("months", "parking.passes.field.months", "number", required=True),),
        PassRenewIn,
    ),
    RowAction(
        "cancel",
        "parking.passes.action.cancel",
        "parking.passes.confirm.cancel",
        "parking.passes.flash.cancelled",
        _cancel,
        danger=True,
    ),
)


# --- wiring ----------------------------------------------------------------------------------------


def mount(
    app: web.Application, resource: Resource, template: str = "parking/pass_list.html"
) -> None:
    """A resource's list (this domain's template: its own row actions), export, forms,
    enable/disable/delete and its menu entry."""
    path = resource.path
    mount_routes(app, resource, list_view(resource, template))
    ui.add_menu(app, MenuItem(GROUP, resource.title, path, VIEW, resource.menu_order))


def mount_actions(app: web.Application, resource: Resource, actions: tuple[RowAction, ...]) -> None:
    for action in actions:
        confirm, act = row_action(resource, action)
        path = f"{resource.path}/{{id:\\d+}}/{action.slug}"
        app.router.add_get(path, confirm, name=f"{resource.name}.{action.slug}")
        app.router.add_post(path, act)


def setup(app: web.Application) -> None:
    """Mount this module's pages, and put the white and black lists under 停车运营 too."""
    clock.configure(app[SETTINGS_KEY].timezone)
    for resource in (RULES_PAGE, PASSES_PAGE, SPECIALS_PAGE):
        mount(app, resource)
    mount_actions(app, PASSES_PAGE, PASS_ACTIONS)
    for offset, kind in enumerate(("whitelist", "blacklist")):
        ui.add_menu(
            app,
            MenuItem(
                GROUP, f"parking.lists.{kind}", f"/lists?kind={kind}", "lists.view", 62 + offset
            ),
        )
