"""The PDA pages' words: one key per text, Simplified Chinese by default, English on request."""

from __future__ import annotations

from typing import Any

LANGUAGES = ("zh", "en")

TEXTS: dict[str, tuple[str, str]] = {
    "parking.pda.title": ("收费终端", "Collector PDA"),
    "parking.pda.offline": (
        "离线：未能连接平台，已按本机数据签到，数据将在联网后同步",
        "Offline: the cloud could not be reached; signed in from this PDA's data, synced later",
    ),
    "parking.pda.pending": ("待同步 {count} 条", "{count} waiting to sync"),
    "parking.pda.login.title": ("收费员登录", "Collector sign-in"),
    "parking.pda.login.account": ("账号", "Account"),
    "parking.pda.login.password": ("密码", "Password"),
    "parking.pda.login.section": ("路段", "Road section"),
    "parking.pda.login.submit": ("登录并签到", "Sign in"),
    "parking.pda.login.device": ("本机编号 {device}", "Device {device}"),
    "parking.pda.nav.berths": ("泊位", "Berths"),
    "parking.pda.nav.arrears": ("欠费", "Arrears"),
    "parking.pda.nav.records": ("记录", "Records"),
    "parking.pda.nav.shift": ("班次", "Shift"),
    "parking.pda.search": ("车牌或泊位号", "Plate or berth number"),
    "parking.pda.search.go": ("查找", "Find"),
    "parking.pda.berth.free": ("空闲", "Free"),
    "parking.pda.berth.occupied": ("占用", "Occupied"),
    "parking.pda.berth.since": ("入场 {time}", "since {time}"),
    "parking.pda.berth.no_plate": ("未录入车牌", "no plate yet"),
    "parking.pda.berth.unpaid": ("未付 {amount} 元", "{amount} yuan unpaid"),
    "parking.pda.berth.paid": ("已付 {amount} 元", "{amount} yuan paid"),
    "parking.pda.berth.due": ("应收 {amount} 元", "{amount} yuan due"),
    "parking.pda.berth.freed": ("已免费：{reason}", "Freed: {reason}"),
    "parking.pda.berth.mine": ("本机操作，待同步", "changed here, not yet synced"),
    "parking.pda.berth.none": ("没有符合条件的泊位", "No berth matches"),
    "parking.pda.berth.arrears": ("该车欠费 {amount} 元", "This vehicle owes {amount} yuan"),
    "parking.pda.action.plate": ("录入/更正车牌", "Enter or correct the plate"),
    "parking.pda.action.save": ("保存", "Save"),
    "parking.pda.action.cash": ("收现金 {amount} 元", "Take {amount} yuan cash"),
    "parking.pda.action.qr": ("已扫码支付 {amount} 元", "Paid {amount} yuan by QR"),
    "parking.pda.action.print_entry": ("打印入场小票", "Print entry receipt"),
    "parking.pda.action.print_exit": ("打印出场小票", "Print exit receipt"),
    "parking.pda.action.arrive": ("补入车", "Record an arrival"),
    "parking.pda.action.depart": ("补出车", "Record a departure"),
    "parking.pda.action.free": ("特殊车辆免费", "Free a special vehicle"),
    "parking.pda.action.false_alarm": ("上报地磁误报", "Report a sensor false alarm"),
    "parking.pda.action.reason": ("原因", "Reason"),
    "parking.pda.action.reprint": ("补打", "Reprint"),
    "parking.pda.action.signout": ("签退", "Sign out"),
    "parking.pda.action.back": ("返回", "Back"),
    "parking.pda.arrears.title": ("欠费追缴", "Arrears"),
    "parking.pda.arrears.lookup": ("查询", "Look up"),
    "parking.pda.arrears.none": ("{plate} 没有欠费", "{plate} owes nothing"),
    "parking.pda.arrears.total": ("合计 {amount} 元", "{amount} yuan in all"),
    "parking.pda.arrears.one": ("补缴此笔", "Collect this one"),
    "parking.pda.arrears.all_cash": ("全部补缴（现金）", "Collect all (cash)"),
    "parking.pda.arrears.all_qr": ("全部补缴（扫码）", "Collect all (QR)"),
    "parking.pda.arrears.confirm_button": ("确认补缴 {amount} 元", "Confirm {amount} yuan"),
    "parking.pda.shift.title": ("班次", "Shift"),
    "parking.pda.shift.since": ("签到 {time}", "Signed in {time}"),
    "parking.pda.shift.cash": ("现金", "Cash"),
    "parking.pda.shift.qr": ("扫码", "QR"),
    "parking.pda.shift.arrears": ("其中补缴欠费", "of which arrears"),
    "parking.pda.shift.receipts": ("打印小票", "Receipts printed"),
    "parking.pda.shift.total": ("合计收费", "Total taken"),
    "parking.pda.shift.ended": ("已签退，本班收费汇总：", "Signed out. This shift's takings:"),
    "parking.pda.records.title": ("当班记录", "This shift's records"),
    "parking.pda.records.payments": ("收费", "Payments"),
    "parking.pda.records.receipts": ("小票", "Receipts"),
    "parking.pda.records.copies": ("已打印 {count} 次", "printed {count} times"),
    "parking.pda.kind.entry": ("入场", "entry"),
    "parking.pda.kind.exit": ("出场", "exit"),
    "parking.pda.kind.arrears": ("补缴", "arrears"),
    "parking.pda.kind.parking": ("停车费", "parking fee"),
    "parking.pda.method.cash": ("现金", "cash"),
    "parking.pda.method.qr": ("扫码", "QR"),
    # outcomes
    "parking.pda.done.plate": ("车牌已保存：{plate}", "Plate saved: {plate}"),
    "parking.pda.done.plate_arrears": (
        "车牌已保存：{plate}。该车欠费 {amount} 元，请提醒补缴",
        "Plate saved: {plate}. This vehicle owes {amount} yuan",
    ),
    "parking.pda.done.arrived": ("泊位 {berth} 已补入车", "Arrival recorded at berth {berth}"),
    "parking.pda.done.departed": ("泊位 {berth} 已补出车", "Departure recorded at berth {berth}"),
    "parking.pda.done.false_alarm": ("泊位 {berth} 误报已上报", "False alarm reported: {berth}"),
    "parking.pda.done.freed": ("泊位 {berth} 已免费", "Berth {berth} parks free"),
    "parking.pda.done.collected": (
        "泊位 {berth} 已收费 {amount} 元",
        "{amount} yuan taken: {berth}",
    ),
    "parking.pda.done.arrears": ("{plate} 已补缴 {amount} 元", "{plate}: {amount} yuan collected"),
    "parking.pda.done.printed": ("已打印小票", "Receipt printed"),
    # errors
    "parking.pda.error.csrf": (
        "页面已过期，请刷新后重试",
        "The page expired: reload it and try again",
    ),
    "parking.pda.error.signed_out": ("请先登录签到", "Sign in first"),
    "parking.pda.error.unknown_section": ("未知路段 {site}", "Unknown section {site}"),
    "parking.pda.error.no_collectors": (
        "本机尚无收费员数据，请联网同步后再登录",
        "This PDA has no collectors yet: connect it to sync, then sign in",
    ),
    "parking.pda.error.bad_login": ("账号或密码错误", "Wrong account or password"),
    "parking.pda.error.not_assigned": (
        "该账号未分配到路段 {section}",
        "This account may not work section {section}",
    ),
    "parking.pda.error.section_taken": (
        "路段 {section} 已由 {holder} 在本机签到",
        "{holder} is signed in to {section} here",
    ),
    "parking.pda.error.claim_refused": ("平台拒绝签到：{message}", "The cloud refused: {message}"),
    "parking.pda.error.not_signed_in": ("本班次已签退", "This shift is signed out"),
    "parking.pda.error.unknown_berth": ("没有泊位 {berth}", "No berth {berth}"),
    "parking.pda.error.berth_free": ("泊位 {berth} 没有车辆", "Berth {berth} is free"),
    "parking.pda.error.berth_occupied": ("泊位 {berth} 已有车辆", "Berth {berth} is occupied"),
    "parking.pda.error.plate_empty": ("请输入车牌", "Enter a plate"),
    "parking.pda.error.plate_invalid": (
        "车牌 {plate} 格式不正确（例：粤B12345）",
        "{plate} is not a valid plate (e.g. 粤B12345)",
    ),
    "parking.pda.error.ambiguous_plate": (
        "多个车牌符合：{plates}，请输入完整车牌",
        "Several plates match ({plates}): type it whole",
    ),
    "parking.pda.error.reason_required": ("请填写原因", "Give a reason"),
    "parking.pda.error.bad_method": ("支付方式无效", "Unknown payment method"),
    "parking.pda.error.no_fee": ("无法计费：{detail}", "Cannot price this stay: {detail}"),
    "parking.pda.error.nothing_due": ("泊位 {berth} 无需收费", "Nothing is due at berth {berth}"),
    "parking.pda.error.bad_receipt": ("未知小票类型", "Unknown receipt kind"),
    "parking.pda.error.unknown_receipt": ("没有这张小票", "No such receipt"),
    "parking.pda.error.printer": (
        "小票未打印：{detail}（收费记录已保存，可稍后补打）",
        "Receipt not printed: {detail} (the payment is recorded; reprint later)",
    ),
    "parking.pda.error.no_arrears": (
        "{plate} 没有可补缴的欠费",
        "{plate} has no arrears to collect",
    ),
    "parking.pda.error.confirm": (
        "补缴金额 {amount} 元，超过 {limit} 元，需要二次确认",
        "{amount} yuan is above {limit} yuan: confirm a second time",
    ),
    "parking.pda.error.forbidden": (
        "收费页面只在本机访问",
        "The collector pages are served to this device only",
    ),
}


def yuan(fen: int) -> str:
    return f"{fen / 100:.2f}"


def translate(key: str, lang: str = "zh", **params: Any) -> str:
    """The text of a key in a language, with its {placeholders} filled (fen as yuan)."""
    pair = TEXTS.get(key)
    if pair is None:
        return key
    text = pair[1] if lang == "en" else pair[0]
    values = dict(params)
    for name in ("fen", "threshold"):
        if isinstance(values.get(name), int):
            values["amount" if name == "fen" else "limit"] = yuan(values[name])
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text
