"""Admin page plumbing: templates, layout, and the declarative list, form and export pages.

`layout` renders pages inside the navigation; `resources` declares a page as data; `views`
turns a declaration into list, export, form and action handlers; `values` shows and reads
values; `charts` draws the dashboard's SVG.
"""

from __future__ import annotations

import aiohttp_jinja2
import jinja2
from aiohttp import web

from cloud.crud import EXPORT_BATCH
from cloud.ui.charts import bar_chart
from cloud.ui.layout import (
    LANG_COOKIE,
    MENU_GROUPS,
    MENU_KEY,
    STATIC_DIR,
    TEMPLATES_DIR,
    MenuItem,
    add_menu,
    language_of,
    page_errors,
    redirect,
    render,
    safe_next,
    zone_of,
)
from cloud.ui.resources import (
    ENABLED_CHOICES,
    Column,
    Filter,
    FormField,
    Resource,
    enum_choices,
    service_choices,
    static_choices,
)
from cloud.ui.views import mount


def setup(app: web.Application) -> None:
    """Template engine, static files and the layout context; domains then mount their pages."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )
    app[MENU_KEY] = []
    app.router.add_static("/static", STATIC_DIR, name="static")


__all__ = [
    "ENABLED_CHOICES",
    "EXPORT_BATCH",
    "LANG_COOKIE",
    "MENU_GROUPS",
    "TEMPLATES_DIR",
    "Column",
    "Filter",
    "FormField",
    "MenuItem",
    "Resource",
    "add_menu",
    "bar_chart",
    "enum_choices",
    "language_of",
    "mount",
    "page_errors",
    "redirect",
    "render",
    "safe_next",
    "service_choices",
    "setup",
    "static_choices",
    "zone_of",
]
