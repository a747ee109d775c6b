"""Declarations of admin pages as data: columns, filters, form fields, choices, resources."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel

from cloud import i18n
from cloud.auth import Principal
from cloud.crud import Crud

Choices = list[tuple[str, str]]
ChoicesFn = Callable[[Principal, str], Awaitable[Choices]]
FieldKind = Literal[
    "text", "password", "number", "select", "checkbox", "checkboxes", "datetime", "time", "textarea"
]


def enum_choices(enum: type[Enum], prefix: str) -> ChoicesFn:
    """Choices of an enum, labelled by the translation keys prefix+value."""

    async def choices(principal: Principal, lang: str) -> Choices:
        return [(str(member.value), i18n.t(f"{prefix}{member.value}", lang)) for member in enum]

    return choices


def static_choices(pairs: Sequence[tuple[str, str]]) -> ChoicesFn:
    """Fixed choices whose labels are translation keys."""

    async def choices(principal: Principal, lang: str) -> Choices:
        return [(value, i18n.t(label, lang)) for value, label in pairs]

    return choices


def service_choices(
    source: Callable[[Principal], Awaitable[Sequence[tuple[Any, str]]]],
) -> ChoicesFn:
    """Choices read from a service (rows of the principal's tenant); labels are data, not keys."""

    async def choices(principal: Principal, lang: str) -> Choices:
        return [(str(value), label) for value, label in await source(principal)]

    return choices


ENABLED_CHOICES = static_choices([("true", "common.enabled"), ("false", "common.disabled")])


@dataclass(frozen=True)
class Column:
    name: str  # attribute of the output schema
    label: str  # translation key
    sort: str | None = None  # sort key the service accepts; None: not sortable
    kind: str = "text"  # text, datetime, bool, enabled, enum, list, time
    prefix: str = ""  # translation prefix of enum values
    link: bool = False  # the cell links to the edit form


@dataclass(frozen=True)
class Filter:
    name: str  # field of the filter schema, and the query-string parameter
    label: str
    kind: FieldKind = "text"
    choices: ChoicesFn | None = None
    placeholder: str = ""


@dataclass(frozen=True)
class FormField:
    name: str  # field of the input schema
    label: str
    kind: FieldKind = "text"
    choices: ChoicesFn | None = None
    required: bool = False  # marks the label; the schema decides
    help: str = ""
    on: Literal["both", "create", "update"] = "both"


@dataclass(frozen=True)
class Resource:
    """One kind of row in the admin UI: its list, filters, form, actions and export, as data."""

    name: str  # route names and translation prefix
    path: str
    title: str
    group: str
    view_permission: str
    edit_permission: str
    columns: tuple[Column, ...]
    crud: Crud
    filter_model: type[BaseModel]
    filters: tuple[Filter, ...] = ()
    create_model: type[BaseModel] | None = None
    update_model: type[BaseModel] | None = None
    fields: tuple[FormField, ...] = ()
    label_of: Callable[[Any], str] = str
    menu: tuple[tuple[str, str], ...] | None = None  # (label, path) entries; None: one, the list
    menu_order: int = 100
    export: bool = True
    export_limit: int = 50_000

    @property
    def actions(self) -> list[str]:
        names = []
        if self.crud.set_enabled is not None:
            names += ["enable", "disable"]
        if self.crud.delete is not None:
            names.append("delete")
        return names
