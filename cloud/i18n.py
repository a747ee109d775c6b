"""The one translation function of the UI, over a catalogue of Simplified Chinese and English text."""

from __future__ import annotations

from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT = "zh"

AUDIT_ENTITIES = (
    "user",
    "role",
    "department",
    "position",
    "site",
    "gate",
    "lane",
    "device",
    "list_entry",
    "access_rule",
)
AUDIT_ACTIONS = ("create", "update", "delete", "enable", "disable", "login")

# key: (中文, English). Both languages side by side, so a missing translation shows in review.
_ENTRIES: dict[str, tuple[str, str]] = {
    "app.name": ("Wayside 通行管理", "Wayside Access"),
    "lang.zh": ("中文", "中文"),
    "lang.en": ("English", "English"),
    "nav.menu": ("导航", "Navigation"),
    "nav.logout": ("退出", "Sign out"),
    # menu
    "menu.home": ("首页", "Home"),
    "menu.group.home": ("概览", "Overview"),
    "menu.group.access": ("通行管理", "Access"),
    "menu.group.sites": ("场所设备", "Sites & devices"),
    "menu.group.org": ("组织权限", "Organisation"),
    # login
    "login.title": ("登录", "Sign in"),
    "login.subtitle": ("使用账号或手机号登录", "Use your account or phone number"),
    "login.account": ("账号 / 手机号", "Account / phone"),
    "login.submit": ("登录", "Sign in"),
    "login.missing": ("请输入账号和密码", "Enter your account and password"),
    "login.bad_credentials": ("账号或密码错误", "Wrong account or password"),
    "login.disabled": ("该账号已停用", "This account is disabled"),
    "login.throttled": (
        "登录失败次数过多，请 {minutes} 分钟后再试",
        "Too many failed sign-ins; try again in {minutes} minutes",
    ),
    # common
    "common.yes": ("是", "Yes"),
    "common.no": ("否", "No"),
    "common.enabled": ("启用", "Enabled"),
    "common.disabled": ("停用", "Disabled"),
    "common.all": ("全部", "All"),
    "common.choose": ("请选择", "Choose"),
    "common.new": ("新建", "New"),
    "common.edit": ("编辑", "Edit"),
    "common.save": ("保存", "Save"),
    "common.cancel": ("取消", "Cancel"),
    "common.search": ("查询", "Search"),
    "common.reset": ("重置", "Reset"),
    "common.export": ("导出 Excel", "Export Excel"),
    "common.actions": ("操作", "Actions"),
    "action.enable": ("启用", "Enable"),
    "action.disable": ("停用", "Disable"),
    "action.delete": ("删除", "Delete"),
    "confirm.enable": ("确定启用「{label}」吗？", "Enable “{label}”?"),
    "confirm.disable": ("确定停用「{label}」吗？", "Disable “{label}”?"),
    "confirm.delete": (
        "确定删除「{label}」吗？删除后无法恢复。",
        "Delete “{label}”? This cannot be undone.",
    ),
    "confirm.yes.enable": ("确定启用", "Enable"),
    "confirm.yes.disable": ("确定停用", "Disable"),
    "confirm.yes.delete": ("确定删除", "Delete"),
    "flash.saved": ("已保存", "Saved"),
    "flash.enabled": ("已启用", "Enabled"),
    "flash.disabled": ("已停用", "Disabled"),
    "flash.deleted": ("已删除", "Deleted"),
    "list.total": ("共 {n} 条", "{n} rows"),
    "list.page_size": ("每页", "Per page"),
    "list.prev": ("上一页", "Previous"),
    "list.next": ("下一页", "Next"),
    "list.empty": ("暂无数据", "Nothing to show"),
    "form.has_errors": ("请修改标红的字段后再保存", "Correct the fields marked in red, then save"),
    "filter.contains": ("包含", "contains"),
    "filter.code_or_name": ("编码或名称", "code or name"),
    "filter.name_or_serial": ("名称或序列号", "name or serial"),
    "filter.name_or_plate": ("名称或车牌", "name or plate"),
    "filter.plate_prefix": ("车牌开头，如 京A", "plate starts with, e.g. 京A"),
    "filter.plate_exact_or_prefix": ("完整车牌或开头，如 京A", "whole plate or start, e.g. 京A"),
    # errors
    "error.required": ("必填", "Required"),
    "error.invalid": ("格式不正确", "Not a valid value"),
    "error.taken": ("已被使用", "Already in use"),
    "error.reference": ("所选项不存在", "The chosen item does not exist"),
    "error.in_use": ("仍被使用，无法删除", "Still in use; cannot delete"),
    "error.not_found": ("找不到该页面或记录", "No such page or record"),
    "error.forbidden": ("没有权限访问此页面", "You have no permission for this page"),
    "error.self": ("不能对自己执行此操作", "You cannot do this to yourself"),
    "error.admin_only": ("只有管理员可以设置", "Only an administrator can set this"),
    "error.parent_self": ("不能选择自己作为上级", "A department cannot be its own parent"),
    "error.permission_unknown": ("未知权限", "Unknown permission"),
    "error.plate_invalid": ("不是有效的车牌号", "Not a valid plate number"),
    "error.until_before_from": ("结束时间须晚于开始时间", "Must be after the start"),
    "error.end_before_start": ("结束时刻须晚于开始时刻", "Must be after the start time"),
    "error.weekday": ("星期须为 1 到 7", "Weekdays are 1 to 7"),
    "error.lane_other_site": ("车道不属于所选场所", "The lane is not at the chosen site"),
    "error.gate_has_lanes": (
        "校门下已有车道，不能更换场所",
        "The gate has lanes; it cannot move to another site",
    ),
    "error.pydantic.string_too_long": ("内容过长", "Too long"),
    "error.pydantic.string_too_short": ("内容过短", "Too short"),
    "error.pydantic.string_pattern_mismatch": ("格式不正确", "Wrong format"),
    "error.pydantic.int_parsing": ("请输入整数", "Enter a whole number"),
    "error.pydantic.greater_than_equal": ("数值过小", "Too small"),
    "error.pydantic.less_than_equal": ("数值过大", "Too large"),
    "error.pydantic.enum": ("请选择有效的选项", "Choose one of the options"),
    "error.pydantic.literal_error": ("请选择有效的选项", "Choose one of the options"),
    "error.pydantic.datetime_from_date_parsing": ("日期时间格式不正确", "Not a date and time"),
    "error.pydantic.time_parsing": ("时刻格式不正确", "Not a time of day"),
    "error.pydantic.bool_parsing": ("请选择是或否", "Choose yes or no"),
    # fields
    "field.account": ("账号", "Account"),
    "field.name": ("名称", "Name"),
    "field.phone": ("手机号", "Phone"),
    "field.password": ("密码", "Password"),
    "field.new_password": ("新密码", "New password"),
    "field.department": ("部门", "Department"),
    "field.position": ("岗位", "Position"),
    "field.role": ("角色", "Role"),
    "field.language": ("界面语言", "Language"),
    "field.is_admin": ("管理员", "Administrator"),
    "field.enabled": ("状态", "Status"),
    "field.last_login_at": ("最近登录", "Last sign-in"),
    "field.permissions": ("权限", "Permissions"),
    "field.parent": ("上级部门", "Parent department"),
    "field.sort": ("排序", "Order"),
    "field.at": ("时间", "Time"),
    "field.user": ("操作人", "User"),
    "field.action": ("动作", "Action"),
    "field.entity": ("对象", "Object"),
    "field.entity_id": ("编号", "ID"),
    "field.detail": ("变更内容", "Changes"),
    "field.from": ("开始时间", "From"),
    "field.to": ("结束时间", "To"),
    "field.search": ("关键字", "Keyword"),
    "field.code": ("编码", "Code"),
    "field.site": ("场所", "Site"),
    "field.site_kind": ("场所类型", "Site kind"),
    "field.address": ("地址", "Address"),
    "field.capacity": ("车位数", "Capacity"),
    "field.revision": ("下发版本", "Revision"),
    "field.gate": ("校门", "Gate"),
    "field.lane": ("车道", "Lane"),
    "field.direction": ("方向", "Direction"),
    "field.wiring": ("道闸接线", "Barrier wiring"),
    "field.default_action": ("默认处理", "Default action"),
    "field.min_confidence": ("最低置信度", "Minimum confidence"),
    "field.device_kind": ("设备类型", "Device kind"),
    "field.vendor": ("厂商", "Vendor"),
    "field.serial": ("序列号", "Serial"),
    "field.device_address": ("通信地址", "Address"),
    "field.plate": ("车牌号", "Plate"),
    "field.list_kind": ("名单类型", "List"),
    "field.valid_from": ("生效时间", "Valid from"),
    "field.valid_until": ("失效时间", "Valid until"),
    "field.note": ("备注", "Note"),
    "field.created_at": ("创建时间", "Created"),
    "field.lanes": ("车道", "Lanes"),
    "field.weekdays": ("星期", "Weekdays"),
    "field.start_time": ("开始时刻", "Start time"),
    "field.end_time": ("结束时刻", "End time"),
    "field.occurred_at": ("通行时间", "Time"),
    "field.verdict": ("结果", "Verdict"),
    "field.reason": ("依据", "Reason"),
    "field.confidence": ("置信度", "Confidence"),
    "help.code": (
        "小写字母、数字、- 或 _，边缘端用它识别",
        "lower-case letters, digits, - or _; edges know it by this",
    ),
    "help.plate": (
        "如 京A12345，自动转为大写并去掉空格",
        "e.g. 京A12345; upper-cased, spaces removed",
    ),
    # pages
    "users.title": ("用户", "Users"),
    "users.search": ("关键字", "Keyword"),
    "users.search_hint": ("账号、姓名或手机号", "account, name or phone"),
    "users.account_help": ("3-64 位字母、数字或 _ . @ -", "3-64 letters, digits or _ . @ -"),
    "users.password_keep": ("留空则不修改密码", "Leave empty to keep the password"),
    "users.admin_help": ("管理员拥有本租户全部权限", "An administrator holds every permission"),
    "roles.title": ("角色权限", "Roles"),
    "departments.title": ("部门", "Departments"),
    "positions.title": ("岗位", "Positions"),
    "audit.title": ("操作日志", "Audit log"),
    "sites.title": ("场所", "Sites"),
    "gates.title": ("校门", "Gates"),
    "lanes.title": ("车道", "Lanes"),
    "lanes.default_help": (
        "留空按场所类型：校园默认拒绝，其他默认放行",
        "Empty: by site kind (campus denies, others open)",
    ),
    "devices.title": ("设备", "Devices"),
    "devices.address_help": ("如 192.168.1.20:502", "e.g. 192.168.1.20:502"),
    "lists.title": ("黑白名单", "White/black lists"),
    "lists.whitelist": ("白名单", "Whitelist"),
    "lists.blacklist": ("黑名单", "Blacklist"),
    "rules.title": ("出入规则", "Access rules"),
    "rules.plate_help": ("留空表示所有车辆", "Empty: every vehicle"),
    "rules.lanes_help": ("不选表示所有车道", "None chosen: every lane"),
    "records.title": ("过车记录", "Access records"),
    "home.title": ("今日概览", "Today"),
    "home.today_total": ("今日通行", "Passages today"),
    "home.today_open": ("放行", "Opened"),
    "home.today_deny": ("拒绝", "Refused"),
    "home.trend": ("近 30 天通行趋势", "Last 30 days"),
    "home.by_site": ("今日各场所", "Today by site"),
    "home.no_records_today": ("今日暂无记录", "No records today"),
    "home.welcome": ("欢迎，{name}", "Welcome, {name}"),
    # permissions (role form) and their codes (role list)
    "perm.dashboard.view": ("查看首页概览", "View the dashboard"),
    "perm.users.view": ("查看用户", "View users"),
    "perm.users.edit": ("管理用户", "Manage users"),
    "perm.roles.edit": ("管理角色", "Manage roles"),
    "perm.sites.view": ("查看场所设备", "View sites"),
    "perm.sites.edit": ("管理场所设备", "Manage sites"),
    "perm.lists.view": ("查看名单规则", "View lists and rules"),
    "perm.lists.edit": ("管理名单规则", "Manage lists and rules"),
    "perm.access.view": ("查看过车记录", "View access records"),
    "perm.audit.view": ("查看操作日志", "View the audit log"),
    # enums
    "site.kind.campus": ("校园", "Campus"),
    "site.kind.parking_lot": ("停车场", "Parking lot"),
    "site.kind.street_section": ("路段", "Road section"),
    "site.kind.charging_station": ("充电站", "Charging station"),
    "site.kind.property": ("物业", "Property"),
    "direction.entry": ("入口", "Entry"),
    "direction.exit": ("出口", "Exit"),
    "wiring.modbus": ("Modbus 控制", "Modbus"),
    "wiring.camera_relay": ("相机继电器", "Camera relay"),
    "action.open": ("放行", "Open"),
    "action.deny": ("拒绝", "Deny"),
    "device.kind.anpr_camera": ("车牌识别相机", "ANPR camera"),
    "device.kind.barrier": ("道闸", "Barrier"),
    "device.kind.display": ("显示屏", "Display"),
    "list.kind.whitelist": ("白名单", "Whitelist"),
    "list.kind.blacklist": ("黑名单", "Blacklist"),
    "verdict.open": ("放行", "Opened"),
    "verdict.deny": ("拒绝", "Refused"),
    "reason.lane_disabled": ("车道停用", "Lane disabled"),
    "reason.low_confidence": ("识别置信度低", "Low confidence"),
    "reason.blacklist": ("黑名单", "Blacklist"),
    "reason.whitelist": ("白名单", "Whitelist"),
    "reason.rule": ("出入规则", "Access rule"),
    "reason.default": ("默认处理", "Lane default"),
    "audit.action.create": ("新建", "Create"),
    "audit.action.update": ("修改", "Update"),
    "audit.action.delete": ("删除", "Delete"),
    "audit.action.enable": ("启用", "Enable"),
    "audit.action.disable": ("停用", "Disable"),
    "audit.action.login": ("登录", "Sign in"),
    "audit.entity.user": ("用户", "User"),
    "audit.entity.role": ("角色", "Role"),
    "audit.entity.department": ("部门", "Department"),
    "audit.entity.position": ("岗位", "Position"),
    "audit.entity.site": ("场所", "Site"),
    "audit.entity.gate": ("校门", "Gate"),
    "audit.entity.lane": ("车道", "Lane"),
    "audit.entity.device": ("设备", "Device"),
    "audit.entity.list_entry": ("名单", "List entry"),
    "audit.entity.access_rule": ("出入规则", "Access rule"),
}
for _day, (_zh, _en) in enumerate(
    zip("一二三四五六日", ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True), start=1
):
    _ENTRIES[f"weekday.{_day}"] = (f"星期{_zh}", _en)
    _ENTRIES[f"weekday.short.{_day}"] = (_zh, _en)
# Role lists show the codes a role holds with the same words as the role form.
for _key in [k for k in _ENTRIES if k.startswith("perm.")]:
    _ENTRIES[f"perm.code.{_key.removeprefix('perm.')}"] = _ENTRIES[_key]

CATALOGUES: dict[str, dict[str, str]] = {
    lang: {key: texts[index] for key, texts in _ENTRIES.items()}
    for index, lang in enumerate(LANGUAGES)
}


def has(key: str) -> bool:
    return key in _ENTRIES


def t(key: str, lang: str = DEFAULT, **params: Any) -> str:
    """The text of `key` in `lang` (Chinese when unknown); an unknown key is shown as it is."""
    text = CATALOGUES.get(lang, CATALOGUES[DEFAULT]).get(key)
    if text is None:
        return key
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text
