"""Gate QR posters (requirements 000, 3.1.2): a landscape and a portrait PNG per campus gate, whose
QR code opens the gate's mobile page, where a registrant or visitor gets their pass."""

from __future__ import annotations

import asyncio
import functools
import glob
import io
import logging
from dataclasses import dataclass
from typing import Literal

import segno
from aiohttp import web
from PIL import Image, ImageDraw, ImageFont
from pydantic import Field
from tortoise.expressions import Q

from cloud import ui
from cloud.auth import SETTINGS_KEY, Handler, Principal, principal_of, require
from cloud.crud import Crud, Page, PageParams, paginate, where_given
from cloud.errors import NotFound
from cloud.org.models import Tenant
from cloud.org.schemas import In, Out
from cloud.org.service import scoped
from cloud.sites.models import Gate, Site
from cloud.ui import Column, Filter, Resource
from protocols.site import SiteKind

log = logging.getLogger(__name__)

Layout = Literal["landscape", "portrait"]
# A4 at 150 dpi: prints sharp on paper and stays a few hundred kilobytes.
SIZES: dict[str, tuple[int, int]] = {"landscape": (1754, 1240), "portrait": (1240, 1754)}
INSTRUCTION = "微信扫码生成通行证"
INSTRUCTION_LATIN = "Scan with WeChat to get your pass"
BRAND = (22, 93, 255)
INK = (31, 35, 41)
MUTED = (100, 106, 115)
# Where CJK fonts live on Debian/Ubuntu (fonts-noto-cjk, fonts-wqy-*), Fedora, Arch, macOS, Windows.
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
FONT_GLOBS = (
    "/usr/share/fonts/**/*CJK*",
    "/usr/share/fonts/**/wqy*",
    "/usr/local/share/fonts/**/*CJK*",
)


def gate_url(public_url: str, tenant_code: str, gate_code: str) -> str:
    """What a gate's QR code holds: its mobile page, served by the cloud's /m/ pages."""
    return f"{public_url.rstrip('/')}/m/{tenant_code}/gate/{gate_code}"


@dataclass(frozen=True)
class CjkFont:
    path: str
    index: int  # the face inside a .ttc collection (Simplified Chinese when there is one)


def _face_index(path: str) -> int | None:
    """The collection face that draws Simplified Chinese ("SC"), else the first that draws 通."""
    best: int | None = None
    for index in range(8):
        try:
            font = ImageFont.truetype(path, 24, index=index)
        except OSError:
            break
        if font.getmask("通行证").getbbox() is None:
            continue
        family = font.getname()[0] or ""
        if "SC" in family.split() or family.endswith(" SC"):
            return index
        if best is None:
            best = index
    return best


@functools.cache
def find_cjk_font() -> CjkFont | None:
    """A font that draws Chinese, looked up once per process; None when the machine has none."""
    candidates = [*FONT_CANDIDATES]
    for pattern in FONT_GLOBS:
        candidates += sorted(glob.glob(pattern, recursive=True))
    for path in candidates:
        try:
            index = _face_index(path)
        except (OSError, ValueError):
            continue
        if index is not None:
            return CjkFont(path, index)
    log.warning(
        "no CJK font found (install fonts-noto-cjk); gate posters show codes instead of names"
    )
    return None


@dataclass(frozen=True)
class PosterText:
    school: str
    campus: str
    gate: str
    instruction: str


def _font(font: CjkFont | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if font is not None:
        return ImageFont.truetype(font.path, size, index=font.index)
    return ImageFont.load_default(size=size)


def _fitted(
    draw: ImageDraw.ImageDraw, text: str, font: CjkFont | None, size: int, width: int
) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The largest font up to `size` in which `text` fits `width` pixels."""
    while size > 12:
        face = _font(font, size)
        left, _, right, _ = draw.textbbox((0, 0), text, font=face)
        if right - left <= width:
            return face
        size = int(size * 0.9)
    return _font(font, 12)


def _qr_image(url: str, side: int) -> Image.Image:
    """The QR code as a black-on-white image at most `side` pixels wide, modules kept square."""
    code = segno.make(url, error="m", micro=False)
    modules = code.symbol_size(scale=1, border=4)[0]
    scale = max(1, side // modules)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=scale, border=4)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def _centered(
    draw: ImageDraw.ImageDraw,
    text: str,
    center_x: int,
    top: int,
    face: ImageFont.FreeTypeFont | ImageFont.ImageFont,
    fill: tuple[int, int, int],
) -> int:
    """Draw `text` centred on center_x from `top`; returns the y below it."""
    left, upper, right, lower = draw.textbbox((0, 0), text, font=face)
    draw.text((center_x - (right - left) / 2 - left, top - upper), text, font=face, fill=fill)
    return int(top + (lower - upper))


def render_poster(url: str, text: PosterText, layout: Layout) -> bytes:
    """A printable poster: the school over a brand band, campus and gate, the QR code, the
    instruction and the URL in small print. CPU-bound; call it in a worker thread."""
    width, height = SIZES[layout]
    font = find_cjk_font()
    if font is None:
        text = PosterText(text.school, text.campus, text.gate, INSTRUCTION_LATIN)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    band = int(height * (0.16 if layout == "portrait" else 0.18))
    draw.rectangle((0, 0, width, band), fill=BRAND)
    margin = width // 16
    _centered(
        draw,
        text.school,
        width // 2,
        band // 2 - band // 5,
        _fitted(draw, text.school, font, band * 2 // 5, width - 2 * margin),
        (255, 255, 255),
    )
    footer = _font(font, max(14, height // 60))
    if layout == "portrait":
        y = band + height // 24
        title = f"{text.campus} · {text.gate}"
        y = _centered(
            draw,
            title,
            width // 2,
            y,
            _fitted(draw, title, font, height // 18, width - 2 * margin),
            INK,
        )
        side = min(width - 2 * margin, int(height * 0.5))
        qr = _qr_image(url, side)
        top = y + height // 30
        image.paste(qr, ((width - qr.width) // 2, top))
        y = top + qr.height + height // 40
        y = _centered(
            draw,
            text.instruction,
            width // 2,
            y,
            _fitted(draw, text.instruction, font, height // 22, width - 2 * margin),
            BRAND,
        )
        _centered(draw, url, width // 2, height - height // 22, footer, MUTED)
    else:
        side = min(height - band - 2 * (height // 14), width // 2 - margin)
        qr = _qr_image(url, side)
        qr_left = margin
        qr_top = band + (height - band - qr.height) // 2
        image.paste(qr, (qr_left, qr_top))
        column = qr_left + qr.width + margin // 2
        center_x = column + (width - margin - column) // 2
        text_width = width - margin - column
        y = band + (height - band) // 5
        y = _centered(
            draw,
            text.campus,
            center_x,
            y,
            _fitted(draw, text.campus, font, height // 13, text_width),
            INK,
        )
        y = _centered(
            draw,
            text.gate,
            center_x,
            y + height // 30,
            _fitted(draw, text.gate, font, height // 10, text_width),
            INK,
        )
        y = _centered(
            draw,
            text.instruction,
            center_x,
            y + height // 12,
            _fitted(draw, text.instruction, font, height // 16, text_width),
            BRAND,
        )
        _centered(draw, url, center_x, height - height // 16, footer, MUTED)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


# --- the gate posters page ----------------------------------------------------------------------


class GatePosterOut(Out):
    id: int
    code: str
    name: str
    site_id: int
    site_name: str
    enabled: bool


class GatePosterFilter(In):
    q: str = Field(default="", max_length=64, description="gate code or name contains")
    site_id: int | None = None
    enabled: bool | None = None


def _gate_out(row: Gate) -> GatePosterOut:
    return GatePosterOut(
        id=row.id,
        code=row.code,
        name=row.name,
        site_id=row.site_id,
        site_name=row.site.name,
        enabled=row.enabled,
    )


async def list_campus_gates(
    principal: Principal, f: GatePosterFilter, params: PageParams
) -> Page[GatePosterOut]:
    campuses = (
        await scoped(Site, principal).filter(kind=SiteKind.campus).values_list("id", flat=True)
    )
    query = scoped(Gate, principal).filter(site_id__in=list(campuses))
    if f.q:
        query = query.filter(Q(code__icontains=f.q) | Q(name__icontains=f.q))
    query = where_given(query, f, "site_id", "enabled")
    return await paginate(
        query,
        params,
        sorts={"code": "code", "name": "name"},
        default_sort="code",
        convert=_gate_out,
        related=("site",),
    )


async def campus_choices(principal: Principal) -> list[tuple[int, str]]:
    rows = (
        await scoped(Site, principal)
        .filter(kind=SiteKind.campus)
        .order_by("name")
        .values_list("id", "name")
    )
    return [(int(i), str(n)) for i, n in rows]


async def poster_for(principal: Principal, ident: int, public_url: str, layout: Layout) -> bytes:
    """The poster of one of the school's campus gates; another school's gate does not exist."""
    gate = await scoped(Gate, principal).filter(id=ident).select_related("site").first()
    if gate is None or gate.site.kind != SiteKind.campus:
        raise NotFound("gate", ident)
    tenant = await Tenant.get(id=principal.tenant_id)
    url = gate_url(public_url, tenant.code, gate.code)
    if find_cjk_font() is None:  # without Chinese glyphs, codes are what can be printed
        text = PosterText(tenant.code, gate.site.code, gate.code, INSTRUCTION_LATIN)
    else:
        text = PosterText(tenant.name, gate.site.name, gate.name, INSTRUCTION)
    return await asyncio.to_thread(render_poster, url, text, layout)


GATES = Crud(list=list_campus_gates)
POSTERS_PAGE = Resource(
    name="campus_gate_posters",
    path="/campus/gate-posters",
    title="gate_posters.title",
    group="menu.group.campus",
    view_permission="campus.view",
    edit_permission="campus.view",
    menu_order=90,
    columns=(
        Column("code", "gate_posters.field.gate_code", sort="code"),
        Column("name", "gate_posters.field.gate", sort="name"),
        Column("site_name", "gate_posters.field.campus"),
        Column("enabled", "field.enabled", kind="enabled"),
    ),
    filter_model=GatePosterFilter,
    filters=(
        Filter("q", "field.search", placeholder="filter.code_or_name"),
        Filter(
            "site_id", "gate_posters.field.campus", "select", ui.service_choices(campus_choices)
        ),
        Filter("enabled", "field.enabled", "select", ui.ENABLED_CHOICES),
    ),
    crud=GATES,
    export=False,
)


@require(POSTERS_PAGE.view_permission)
async def poster_png(request: web.Request) -> web.StreamResponse:
    layout = request.query.get("layout", "landscape")
    if layout not in SIZES:
        raise web.HTTPBadRequest(text="layout must be landscape or portrait")
    ident = int(request.match_info["id"])
    public_url = request.app[SETTINGS_KEY].public_url
    png = await poster_for(principal_of(request), ident, public_url, layout)  # type: ignore[arg-type]
    return web.Response(
        body=png,
        content_type="image/png",
        headers={
            "Content-Disposition": f'attachment; filename="gate-{ident}-{layout}.png"',
            "Cache-Control": "no-store",
        },
    )


def setup(app: web.Application, list_handler: Handler) -> None:
    """Mount the gate poster list (rendered by `list_handler`) and the poster download."""
    app.router.add_get(POSTERS_PAGE.path, list_handler, name=f"{POSTERS_PAGE.name}.list")
    app.router.add_get(
        "/campus/gates/{id:\\d+}/poster.png", poster_png, name="campus_gate_posters.png"
    )
    ui.add_menu(
        app,
        ui.MenuItem(
            POSTERS_PAGE.group,
            POSTERS_PAGE.title,
            POSTERS_PAGE.path,
            POSTERS_PAGE.view_permission,
            POSTERS_PAGE.menu_order,
        ),
    )
