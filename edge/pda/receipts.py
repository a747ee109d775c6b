"""The PDA's receipts (入场小票, 出场小票, 补缴凭证) as data, and as the ESC/POS job that prints them.

A receipt's content is kept with its print record, so a reprint (补打) is the same receipt with
the next copy number, even after the vehicle has left.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from protocols.escpos import Align, Receipt

TITLES = {"entry": "停车入场凭证", "exit": "停车收费凭证", "arrears": "欠费补缴凭证"}


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def duration_text(minutes: int) -> str:
    hours, rest = divmod(max(0, minutes), 60)
    return f"{hours}小时{rest}分钟" if hours else f"{rest}分钟"


@dataclass(frozen=True)
class ReceiptLine:
    label: str
    amount_fen: int


@dataclass(frozen=True)
class ReceiptData:
    kind: str  # entry, exit or arrears
    subject: str  # the session's uuid (entry, exit) or the arrears payment's uuid
    site: str
    site_name: str
    collector: str  # the collector's name
    at: datetime  # when it was issued (UTC)
    berth: str = ""
    plate: str = ""
    entered_at: datetime | None = None
    exited_at: datetime | None = None
    minutes: int = 0
    lines: tuple[ReceiptLine, ...] = ()
    due_fen: int = 0
    paid_fen: int = 0
    method: str = ""
    arrears_fen: int = 0  # the plate's unpaid arrears, told on an entry receipt
    free_reason: str = ""
    qr: str = ""  # what the payment QR code carries ("" prints none)
    hotline: str = ""
    orders: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("at", "entered_at", "exited_at"):
            value = data[key]
            data[key] = value.isoformat() if value is not None else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReceiptData:
        values = dict(data)
        for key in ("at", "entered_at", "exited_at"):
            raw = values.get(key)
            values[key] = datetime.fromisoformat(raw) if raw else None
        values["lines"] = tuple(ReceiptLine(**line) for line in values.get("lines", ()))
        values["orders"] = tuple(values.get("orders", ()))
        return cls(**values)


METHODS = {"cash": "现金", "qr": "扫码", "free": "免费"}
FREE_REASONS = {"monthly": "月卡车", "special": "特殊车辆", "no_tariff": "免费路段"}


def encode(receipt: ReceiptData, copy_number: int, zone: ZoneInfo) -> bytes:
    """The ESC/POS job of this receipt (copy 2 and above are marked as reprints)."""

    def local(moment: datetime | None) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "-"

    job = Receipt()
    job.line(receipt.site_name, align=Align.center, bold=True)
    job.line(TITLES.get(receipt.kind, receipt.kind), align=Align.center, big=True)
    if copy_number > 1:
        job.line(f"(补打 第{copy_number}联)", align=Align.center)
    job.rule()
    if receipt.berth:
        job.pair("泊位", receipt.berth)
    job.pair("车牌", receipt.plate or "未录入")
    if receipt.kind in ("entry", "exit"):
        job.pair("入场时间", local(receipt.entered_at))
    if receipt.kind == "exit":
        job.pair("离场时间", local(receipt.exited_at))
        job.pair("停车时长", duration_text(receipt.minutes))
    if receipt.lines:
        job.rule()
        for line in receipt.lines:
            job.pair(line.label, yuan(line.amount_fen))
    if receipt.free_reason:
        job.pair("免费", FREE_REASONS.get(receipt.free_reason, receipt.free_reason))
    if receipt.kind == "exit" or receipt.kind == "arrears":
        job.rule()
        job.pair("应收(元)", yuan(receipt.due_fen))
        job.pair("实收(元)", yuan(receipt.paid_fen))
        if receipt.method:
            job.pair("支付方式", METHODS.get(receipt.method, receipt.method))
        if receipt.due_fen > receipt.paid_fen:
            job.pair(
                "未付(元)",
                yuan(receipt.due_fen - receipt.paid_fen),
            )
    if receipt.arrears_fen:
        job.line(f"该车有欠费 {yuan(receipt.arrears_fen)} 元，请及时补缴", bold=True)
    job.rule()
    job.pair("收费员", receipt.collector)
    job.pair("打印时间", local(receipt.at))
    if receipt.qr:
        job.line("扫码缴费", align=Align.center)
        job.qr(receipt.qr)
    if receipt.hotline:
        job.line(f"服务电话 {receipt.hotline}", align=Align.center)
    job.feed(3)
    job.cut()
    return job.encode()
