"""Texts of the lot lane pages drivers open (lane QR payment, no-plate ticket, prepayment) and
of the lot's access-record reasons (中文, English), registered at import."""

from __future__ import annotations

from cloud import i18n

TEXTS: dict[str, tuple[str, str]] = {
    "parking.lane_pay.title": ("停车缴费", "Pay for parking"),
    "parking.lane_pay.no_lane": ("找不到这个车道", "This lane does not exist"),
    "parking.lane_pay.lane": ("车道", "Lane"),
    "parking.lane_pay.plate": ("车牌", "Plate"),
    "parking.lane_pay.entered_at": ("入场时间", "Entered"),
    "parking.lane_pay.duration": ("停车时长", "Stay"),
    "parking.lane_pay.minutes": ("分钟", "min"),
    "parking.lane_pay.due": ("应缴", "Fee"),
    "parking.lane_pay.paid": ("已缴", "Paid"),
    "parking.lane_pay.owed": ("待缴", "To pay"),
    "parking.lane_pay.yuan": ("元", "yuan"),
    "parking.lane_pay.pay": ("立即支付", "Pay now"),
    "parking.lane_pay.all_paid": ("已缴清 请通行", "Paid: please drive out"),
    "parking.lane_pay.waiting": (
        "车道暂无待缴费车辆，车辆到达出口后本页自动刷新",
        "No vehicle is waiting at this lane; this page refreshes when one arrives",
    ),
    "parking.lane_pay.present_ticket": ("出示停车票", "Show my ticket"),
    "parking.lane_pay.ticket_code": ("停车票号", "Ticket"),
    "parking.lane_pay.to_prepay": ("场内预缴", "Pay before leaving"),
    "parking.lane_pay.ticket.title": ("无牌车取票", "No-plate ticket"),
    "parking.lane_pay.ticket.take": ("取票入场", "Take a ticket and enter"),
    "parking.lane_pay.ticket.keep": (
        "请保留本页或记下票号，出场时扫描出口二维码缴费",
        "Keep this page or the ticket number: scan the exit QR to pay when leaving",
    ),
    "parking.lane_pay.ticket.opening": ("正在开闸…", "Opening the barrier…"),
    "parking.lane_pay.ticket.done": ("已开闸 请入场", "The barrier is open: drive in"),
    "parking.lane_pay.ticket.failed": ("开闸失败，请联系管理员", "Not opened: call the attendant"),
    "parking.lane_pay.ticket.enter": ("输入停车票号", "Ticket number"),
    "parking.lane_pay.prepay.title": ("场内预缴", "Pay before leaving"),
    "parking.lane_pay.berth.title": ("路内停车缴费", "Pay for on-street parking"),
    "parking.lane_pay.berth.berth": ("泊位", "Berth"),
    "parking.lane_pay.berth.exited_at": ("离场时间", "Left at"),
    "parking.lane_pay.berth.more_later": (
        "仍在停放时，离场前产生的费用由收费员收取或稍后再付",
        "While the car is still here, what accrues later is collected at departure or paid later",
    ),
    "parking.lane_pay.prepay.search": ("查询费用", "Look up the fee"),
    "parking.lane_pay.prepay.none": (
        "没有找到该车牌的在场记录",
        "No stay in this lot for this plate",
    ),
    "parking.lane_pay.prepay.grace": (
        "缴费后请在15分钟内出场",
        "After paying, leave within 15 minutes",
    ),
    "parking.lane_pay.payment.title": ("支付结果", "Payment"),
    "parking.lane_pay.payment.number": ("支付单号", "Payment number"),
    "parking.lane_pay.payment.amount": ("金额", "Amount"),
    "parking.lane_pay.payment.created": ("等待支付结果…", "Waiting for the payment…"),
    "parking.lane_pay.payment.paid": ("支付成功 请通行", "Paid: the barrier opens"),
    "parking.lane_pay.payment.closed": ("支付未成功", "The payment did not go through"),
    "parking.lane_pay.error.changed": (
        "车道上的车辆已变化，请确认后再支付",
        "The vehicle at the lane changed: check and pay again",
    ),
    "parking.lane_pay.error.no_ticket": ("请输入停车票号", "Enter the ticket number"),
    "parking.lane_pay.error.no_stay": (
        "没有找到该车牌的在场记录",
        "No stay in this lot for this plate",
    ),
    "parking.lane_pay.error.nothing_due": ("当前无需缴费", "Nothing to pay now"),
    "parking.snapshots.not_found": ("没有这张抓拍图片", "No such snapshot"),
    "reason.arrears": ("欠费拒绝入场", "Unpaid arrears"),
    "reason.monthly": ("月卡车", "Monthly pass"),
    "reason.special": ("特殊车辆", "Special plate"),
    "reason.unpaid": ("待缴费", "Fee due"),
    "reason.paid": ("已缴费放行", "Paid"),
    "reason.ticket": ("无牌车扫码", "No-plate ticket"),
}

i18n.register(TEXTS)
