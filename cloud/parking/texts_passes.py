"""Texts of the monthly-pass, special-plate and parking white/black list pages, registered with
the one translation function."""

from __future__ import annotations

from typing import Any

from cloud import i18n

ENTRIES: dict[str, tuple[str, str]] = {
    # rules
    "parking.passes.rules.title": ("包月规则", "Monthly pass rules"),
    "parking.passes.field.name": ("规则名称", "Rule name"),
    "parking.passes.field.energy": ("适用车辆", "Vehicles"),
    "parking.passes.field.price": ("包月价格（元/月）", "Price (yuan/month)"),
    "parking.passes.field.sites": ("适用车场", "Lots and sections"),
    "parking.passes.field.site": ("车场/路段", "Lot or section"),
    "parking.passes.field.max_months": ("最多可包月数", "Most months at once"),
    "parking.passes.field.online": ("允许线上办理", "Sold online"),
    "parking.passes.field.created_at": ("创建时间", "Created"),
    "parking.passes.energy.any": ("不限", "Any"),
    "parking.passes.energy.new_energy": ("新能源", "New energy"),
    "parking.passes.energy.other": ("非新能源", "Not new energy"),
    "parking.passes.help.sites": (
        "选择一个车场为单车场包月；选择多个即为车场组，组内车场共享包月。",
        "One lot for a single-lot pass; several make a group whose lots share the pass.",
    ),
    "parking.passes.help.price": ("单位元，最多两位小数", "Yuan, at most two decimals"),
    # passes
    "parking.passes.title": ("包月车管理", "Monthly passes"),
    "parking.passes.field.rule": ("包月规则", "Rule"),
    "parking.passes.field.holder": ("联系人", "Holder"),
    "parking.passes.field.phone": ("联系电话", "Phone"),
    "parking.passes.field.plates": ("绑定车牌", "Plates bound"),
    "parking.passes.field.plate": ("车牌号", "Plate"),
    "parking.passes.field.months": ("包月月数", "Months"),
    "parking.passes.field.starts_on": ("生效日期", "Starts on"),
    "parking.passes.field.valid_from": ("生效日期", "Valid from"),
    "parking.passes.field.valid_until": ("有效期至", "Valid until"),
    "parking.passes.field.status": ("状态", "Status"),
    "parking.passes.field.days_left": ("剩余天数", "Days left"),
    "parking.passes.field.paid": ("已缴金额（元）", "Paid (yuan)"),
    "parking.passes.field.operator": ("办卡操作员", "Issued by"),
    "parking.passes.field.issued_at": ("办卡日期", "Issued"),
    "parking.passes.field.expiring_days": ("N天内到期", "Ending within N days"),
    "parking.passes.status.pending": ("未生效", "Not yet valid"),
    "parking.passes.status.valid": ("有效", "Valid"),
    "parking.passes.status.expired": ("已过期", "Expired"),
    "parking.passes.status.cancelled": ("已注销", "Cancelled"),
    "parking.passes.help.plates": (
        "多个车牌以逗号分隔，最多5个；一个车牌只能绑定在一张有效包月卡上。",
        "Separate plates with commas, at most 5; a plate is bound to one pass in force at most.",
    ),
    "parking.passes.help.starts_on": ("留空为今天", "Blank: today"),
    "parking.passes.help.months": (
        "实缴金额 = 月数 × 包月价格",
        "Paid = months × the rule's monthly price",
    ),
    "parking.passes.action.issue": ("办理包月", "Issue a pass"),
    "parking.passes.action.renew": ("续费", "Renew"),
    "parking.passes.action.cancel": ("注销", "Cancel"),
    "parking.passes.confirm.renew": (
        "为「{label}」续费：从当前到期日起顺延；已过期的从今天起算。",
        "Renew {label}: months are added from its current end, or from today once expired.",
    ),
    "parking.passes.confirm.cancel": (
        "确定注销「{label}」？注销后绑定车牌立即按临时车计费。",
        "Cancel {label}? Its plates are billed as temporary vehicles at once.",
    ),
    "parking.passes.flash.renewed": ("已续费", "Renewed"),
    "parking.passes.flash.cancelled": ("已注销", "Cancelled"),
    "parking.passes.error.sites": (
        "请选择本单位的停车场或路段",
        "Choose lots or road sections of your organisation",
    ),
    "parking.passes.error.rule_in_use": (
        "已有包月车使用该规则，不能删除（可停用）",
        "Passes were sold under this rule: disable it instead of deleting",
    ),
    "parking.passes.error.rule_disabled": ("该包月规则已停用", "This rule is disabled"),
    "parking.passes.error.cancelled": ("该包月卡已注销", "This pass is cancelled"),
    "parking.passes.error.starts_past": (
        "生效日期不能早于今天",
        "The first day cannot be before today",
    ),
    "parking.passes.error.plate_taken": (
        "车牌 {plate} 已绑定在另一张有效包月卡上",
        "Plate {plate} is already bound to another pass in force",
    ),
    "parking.passes.error.energy.new_energy": (
        "该规则仅限新能源车，车牌 {plate} 不是新能源车牌",
        "This rule is for new-energy vehicles only: {plate} is not a new-energy plate",
    ),
    "parking.passes.error.energy.other": (
        "该规则仅限非新能源车，车牌 {plate} 是新能源车牌",
        "This rule is for non-new-energy vehicles only: {plate} is a new-energy plate",
    ),
    "parking.passes.error.max_months": (
        "超过该规则最多可包月数（{months}个月）",
        "More than this rule's most months at once ({months})",
    ),
    "parking.passes.error.money": ("请输入金额（元），最多两位小数", "Yuan, at most two decimals"),
    # special plates
    "parking.specials.title": ("特殊车牌配置", "Special plates"),
    "parking.specials.field.name": ("名称", "Name"),
    "parking.specials.field.plate_kinds": ("车牌类型", "Plate kinds"),
    "parking.specials.field.pattern": ("车牌正则表达式", "Plate pattern (regular expression)"),
    "parking.specials.help.pattern": (
        "可选；在车牌中查找匹配，如 ^WJ 或 警$；以 ^ 和 $ 锚定整个车牌",
        "Optional; searched in the plate, e.g. ^WJ or 警$; anchor with ^ and $ for the whole plate",
    ),
    "parking.specials.error.empty": (
        "请至少选择一种车牌类型或填写正则表达式",
        "Choose a plate kind or give a pattern",
    ),
    "parking.specials.kind.ordinary": ("普通车牌", "Ordinary"),
    "parking.specials.kind.new_energy_small": ("小型新能源", "New energy (small)"),
    "parking.specials.kind.new_energy_large": ("大型新能源", "New energy (large)"),
    "parking.specials.kind.police": ("警车", "Police"),
    "parking.specials.kind.learner": ("教练车", "Learner"),
    "parking.specials.kind.trailer": ("挂车", "Trailer"),
    "parking.specials.kind.hk_macau": ("港澳车", "Hong Kong / Macau"),
    "parking.specials.kind.embassy": ("使馆车", "Embassy"),
    "parking.specials.kind.consulate": ("领馆车", "Consulate"),
    "parking.specials.kind.armed_police": ("武警车", "Armed police"),
    # the access domain's lists, reached from the parking menu
    "parking.lists.whitelist": ("白名单", "Whitelist"),
    "parking.lists.blacklist": ("黑名单", "Blacklist"),
}

i18n.register(ENTRIES)


def said(key: str, **params: Any) -> str:
    """A message with values in it, for a service error that cannot carry parameters: the
    Chinese text followed by the English one."""
    return f"{i18n.t(key, 'zh', **params)} ({i18n.t(key, 'en', **params)})"
