"""The admin message outbox (消息发件箱): every message sent or held, newest first, with export."""

from __future__ import annotations

from aiohttp import web

from cloud import ui
from cloud.notify.models import Channel
from cloud.notify.service import MESSAGES, MessageFilter, Template
from cloud.ui import Column, Filter, Resource

OUTBOX_PAGE = Resource(
    name="messages",
    path="/messages",
    title="notify.outbox.title",
    group="menu.group.org",
    view_permission="messages.view",
    edit_permission="messages.view",
    menu_order=90,
    columns=(
        Column("created_at", "notify.field.sent_at", sort="created_at", kind="datetime"),
        Column("channel", "notify.field.channel", kind="enum", prefix="notify.channel."),
        Column("recipient", "notify.field.recipient", sort="recipient"),
        Column("template", "notify.field.template", kind="enum", prefix="notify.template."),
        Column("body", "notify.field.body"),
        Column("state", "notify.field.state", kind="enum", prefix="notify.state."),
    ),
    filter_model=MessageFilter,
    filters=(
        Filter(
            "channel", "notify.field.channel", "select", ui.enum_choices(Channel, "notify.channel.")
        ),
        Filter("recipient", "notify.field.recipient", placeholder="notify.filter.recipient"),
        Filter(
            "template",
            "notify.field.template",
            "select",
            ui.enum_choices(Template, "notify.template."),
        ),
        Filter("sent_from", "field.from", "datetime"),
        Filter("sent_to", "field.to", "datetime"),
    ),
    crud=MESSAGES,
)


def setup(app: web.Application) -> None:
    """Mount the message outbox page and its Excel export."""
    ui.mount(app, OUTBOX_PAGE)
