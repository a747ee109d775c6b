"""Every text key the pages use exists in both languages of the catalogue."""

from __future__ import annotations

import re

from cloud import i18n, ui
from cloud.access import pages as access_pages
from cloud.org import pages as org_pages
from cloud.parking import pages as parking_pages  # noqa: F401 - registers parking texts
from cloud.permissions import PERMISSIONS
from cloud.sites import pages as sites_pages
from edge.pda import texts as pda_texts

RESOURCES = (*org_pages.RESOURCES, *sites_pages.RESOURCES, *access_pages.RESOURCES)


def _declared_keys() -> set[str]:
    keys: set[str] = set()
    for resource in RESOURCES:
        keys |= {resource.title, resource.group}
        keys |= {c.label for c in resource.columns}
        keys |= {f.label for f in resource.filters} | {f.placeholder for f in resource.filters}
        keys |= {f.label for f in resource.fields} | {f.help for f in resource.fields}
        keys |= {label for label, _ in resource.menu or ()}
    keys |= {p.label for p in PERMISSIONS}
    keys |= set(ui.MENU_GROUPS)
    return {k for k in keys if k}


PDA_TEMPLATES = ui.TEMPLATES_DIR / "pda"  # served by the PDA agent, with its own catalogue


def _template_keys(pda: bool = False) -> set[str]:
    keys: set[str] = set()
    for path in ui.TEMPLATES_DIR.rglob("*.html"):
        if path.is_relative_to(PDA_TEMPLATES) != pda:
            continue
        keys |= set(
            re.findall(r"\bt\('([a-z0-9_.]*[a-z0-9_])'[,)]", path.read_text(encoding="utf-8"))
        )
    return keys


def test_every_key_is_translated_in_both_languages() -> None:
    keys = _declared_keys() | _template_keys()
    assert len(keys) > 80
    missing = sorted(k for k in keys if not i18n.has(k))
    assert not missing
    for lang in i18n.LANGUAGES:
        assert all(i18n.CATALOGUES[lang][k] for k in keys)


def test_every_key_of_the_pda_pages_is_translated_in_both_languages() -> None:
    keys = _template_keys(pda=True)
    assert len(keys) > 20
    missing = sorted(k for k in keys if k not in pda_texts.TEXTS)
    assert not missing
    assert all(zh and en for zh, en in (pda_texts.TEXTS[k] for k in keys))


def test_translation_falls_back_and_formats() -> None:
    assert i18n.t("login.throttled", "en", minutes=15).endswith("15 minutes")
    assert i18n.t("login.throttled", "zh", minutes=15).startswith("登录失败次数过多")
    assert i18n.t("common.save", "fr") == "保存"
    assert i18n.t("京A12345", "en") == "京A12345"
