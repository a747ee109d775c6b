"""Texts of the collector (收费员) and attendance (考勤) pages, registered with the one
translation function."""

from __future__ import annotations

from cloud import i18n

ENTRIES: dict[str, tuple[str, str]] = {
    "parking.collectors.title": ("收费员管理", "Collectors"),
    "parking.collectors.field.account": ("登录账号", "Account"),
    "parking.collectors.field.name": ("姓名", "Name"),
    "parking.collectors.field.employee_no": ("员工编号", "Employee number"),
    "parking.collectors.field.phone": ("手机号码", "Phone"),
    "parking.collectors.field.password": ("登录密码", "Password"),
    "parking.collectors.field.new_password": ("新密码", "New password"),
    "parking.collectors.field.sections": ("可收费路段", "Sections"),
    "parking.collectors.field.section": ("路段", "Section"),
    "parking.collectors.field.state": ("状态", "State"),
    "parking.collectors.field.signed_in": ("签到状态", "Shift"),
    "parking.collectors.field.created_at": ("创建时间", "Created"),
    "parking.collectors.state.true": ("在职", "Working"),
    "parking.collectors.state.false": ("离职", "Resigned"),
    "parking.collectors.signed_in": ("已签到：{section}", "Signed in: {section}"),
    "parking.collectors.signed_out": ("未签到", "Not signed in"),
    "parking.collectors.help.password": (
        "至少8位；保存后不再显示，可在列表中重置",
        "At least 8 characters; never shown again, reset it from the list",
    ),
    "parking.collectors.help.sections": (
        "收费员可在这些路段的手持终端上签到",
        "The collector may sign in on the PDAs of these sections",
    ),
    "parking.collectors.action.reset_password": ("重置密码", "Reset password"),
    "parking.collectors.action.resign": ("设为离职", "Resign"),
    "parking.collectors.action.reinstate": ("恢复在职", "Back to work"),
    "parking.collectors.action.sign_out": ("强制签退", "Force sign-out"),
    "parking.collectors.confirm.reset_password": (
        "为收费员「{label}」设置新密码，手持终端同步后生效。",
        "Set a new password for {label}; PDAs take it at their next sync.",
    ),
    "parking.collectors.confirm.resign": (
        "确定将「{label}」设为离职？账号立即不可使用，正在进行的班次将被签退。",
        "Resign {label}? The account stops working at once and an open shift is signed out.",
    ),
    "parking.collectors.confirm.reinstate": (
        "恢复「{label}」在职，账号可再次登录。",
        "Put {label} back to work: the account may sign in again.",
    ),
    "parking.collectors.confirm.sign_out": (
        "确定强制签退「{label}」？当前班次以现在的时间结束，路段可由其他收费员签到。",
        "Force {label} to sign out? The open shift ends now and its section is free again.",
    ),
    "parking.collectors.flash.password": ("密码已重置", "Password reset"),
    "parking.collectors.flash.resigned": ("已设为离职", "Resigned"),
    "parking.collectors.flash.reinstated": ("已恢复在职", "Back to work"),
    "parking.collectors.flash.signed_out": ("已强制签退", "Signed out"),
    "parking.collectors.error.sections": (
        "请选择本单位的路段",
        "Choose road sections of your organisation",
    ),
    "parking.collectors.error.not_signed_in": (
        "该收费员当前没有签到",
        "This collector is not signed in",
    ),
    "parking.collectors.error.has_shifts": (
        "该收费员已有考勤记录，不能删除（可设为离职）",
        "This collector has worked shifts: resign the account instead of deleting it",
    ),
    # attendance
    "parking.shifts.title": ("收费员考勤", "Attendance"),
    "parking.shifts.field.collector": ("收费员", "Collector"),
    "parking.shifts.field.account": ("账号", "Account"),
    "parking.shifts.field.employee_no": ("员工编号", "Employee number"),
    "parking.shifts.field.section": ("路段", "Section"),
    "parking.shifts.field.device": ("签到设备", "Device"),
    "parking.shifts.field.signed_in_at": ("签到时间", "Signed in"),
    "parking.shifts.field.signed_out_at": ("签退时间", "Signed out"),
    "parking.shifts.field.signed_in_from": ("签到时间从", "Signed in from"),
    "parking.shifts.field.signed_in_to": ("签到时间至", "Signed in before"),
    "parking.shifts.field.hours": ("工作时长（小时）", "Hours"),
    "parking.shifts.field.cash": ("现金（元）", "Cash (yuan)"),
    "parking.shifts.field.qr": ("扫码（元）", "QR (yuan)"),
    "parking.shifts.field.arrears": ("追缴（元）", "Arrears (yuan)"),
    "parking.shifts.field.total": ("合计（元）", "Total (yuan)"),
    "parking.shifts.field.receipts": ("小票数", "Receipts"),
    "parking.shifts.field.late": ("迟到", "Late"),
    "parking.shifts.field.early": ("早退", "Left early"),
    "parking.shifts.field.open": ("班次", "Shift"),
    "parking.shifts.field.starts": ("应上班时间", "Expected start"),
    "parking.shifts.field.ends": ("应下班时间", "Expected end"),
    "parking.shifts.open.true": ("进行中", "Open"),
    "parking.shifts.open.false": ("已签退", "Closed"),
    "parking.shifts.placeholder.clock": ("如 08:00", "e.g. 08:00"),
}

i18n.register(ENTRIES)
