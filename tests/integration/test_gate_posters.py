"""Gate QR posters: landscape and portrait PNGs whose QR code opens the gate's mobile page."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from cloud.campus import posters
from cloud.sites.models import Gate, Site
from protocols.site import SiteKind
from tests.conftest import IN_CI, make_tenant, sign_in
from tests.e2e.seed import make_place

Client = TestClient[web.Request, web.Application]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _decode(png: bytes) -> tuple[int, int, str]:
    """(width, height, text of the QR code) of a PNG poster."""
    assert png.startswith(PNG_MAGIC)
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    text, _, _ = cv2.QRCodeDetectorAruco().detectAndDecode(image)
    height, width = image.shape[:2]
    return width, height, text


async def test_posters_of_a_campus_gate_carry_its_mobile_url(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    place = await make_place(admin.tenant, prefix="alpha-")
    await sign_in(cloud, admin.account, admin.password)
    listing = await (await cloud.get("/campus/gate-posters")).text()
    assert "alpha-北门" in listing
    assert f"/campus/gates/{place.gate.id}/poster.png?layout=portrait" in listing
    expected = f"http://127.0.0.1:8080/m/alpha/gate/{place.gate.code}"
    for layout, wide in (("landscape", True), ("portrait", False)):
        resp = await cloud.get(f"/campus/gates/{place.gate.id}/poster.png?layout={layout}")
        assert resp.status == 200
        assert resp.content_type == "image/png"
        width, height, text = _decode(await resp.read())
        assert (width > height) is wide, (layout, width, height)
        assert text == expected


async def test_another_schools_gate_and_a_bad_layout_are_refused(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    await make_place(admin.tenant, prefix="alpha-")
    beta = await make_tenant("beta")
    theirs = await make_place(beta.tenant, prefix="beta-")
    await sign_in(cloud, admin.account, admin.password)
    resp = await cloud.get(f"/campus/gates/{theirs.gate.id}/poster.png")
    assert resp.status == 404
    assert "beta-" not in await resp.text()
    assert "beta-北门" not in await (await cloud.get("/campus/gate-posters")).text()
    mine = await Gate.get(code="alpha-north")
    assert (await cloud.get(f"/campus/gates/{mine.id}/poster.png?layout=round")).status == 400


async def test_gates_of_other_site_kinds_have_no_poster(cloud: Client) -> None:
    admin = await make_tenant("alpha")
    lot = await Site.create(
        tenant=admin.tenant, code="lot", name="东区停车场", kind=SiteKind.parking_lot
    )
    gate = await Gate.create(tenant=admin.tenant, site=lot, code="lot-in", name="停车场入口")
    await sign_in(cloud, admin.account, admin.password)
    assert "停车场入口" not in await (await cloud.get("/campus/gate-posters")).text()
    assert (await cloud.get(f"/campus/gates/{gate.id}/poster.png")).status == 404


def test_without_a_cjk_font_the_poster_still_renders_and_scans(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(posters, "find_cjk_font", lambda: None)
    url = posters.gate_url("https://cloud.example/", "school", "north")
    assert url == "https://cloud.example/m/school/gate/north"
    text = posters.PosterText("school", "campus", "north", posters.INSTRUCTION_LATIN)
    width, height, decoded = _decode(posters.render_poster(url, text, "portrait"))
    assert height > width and decoded == url


def test_a_cjk_font_is_found_when_one_is_installed() -> None:
    font = posters.find_cjk_font()
    if font is None:
        message = "no CJK font on this machine: apt-get install fonts-noto-cjk (`make test` does)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = posters.gate_url("http://127.0.0.1:8080", "school", "north")
    long_name = "北京市第一百零一中学附属实验学校国际部" * 2
    text = posters.PosterText(long_name, "东校区", "北门", posters.INSTRUCTION)
    width, height, decoded = _decode(posters.render_poster(url, text, "landscape"))
    assert width > height and decoded == url
