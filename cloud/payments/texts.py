"""Texts of the payment order and refund pages (3.4.3, 3.4.6) (中文, English), registered at
import."""

from __future__ import annotations

from cloud import i18n

TEXTS: dict[str, tuple[str, str]] = {
    "payments.title": ("支付订单", "Payment orders"),
    "payments.refunds.title": ("退费管理", "Refunds"),
    "payments.back": ("返回支付订单", "Back to payments"),
    "payments.refunds.back": ("返回退费列表", "Back to refunds"),
    "payments.state.created": ("待支付", "Awaiting payment"),
    "payments.state.paid": ("已支付", "Paid"),
    "payments.state.failed": ("支付失败", "Failed"),
    "payments.state.closed": ("已关闭", "Closed"),
    "payments.refund_state.pending": ("退款中", "Pending"),
    "payments.refund_state.done": ("已退款", "Refunded"),
    "payments.refund_state.failed": ("退款失败", "Failed"),
    "payments.channel.sim": ("模拟支付", "Simulated"),
    "payments.field.number": ("支付编号", "Payment number"),
    "payments.field.order_number": ("订单编号", "Order number"),
    "payments.field.order_type": ("订单类型", "Order type"),
    "payments.field.station": ("电站", "Station"),
    "payments.field.area": ("区域", "Area"),
    "payments.field.charger": ("设备", "Charger"),
    "payments.field.phone": ("手机号", "Phone"),
    "payments.field.channel": ("支付类型", "Channel"),
    "payments.field.amount": ("支付金额 (元)", "Amount (yuan)"),
    "payments.field.state": ("支付状态", "State"),
    "payments.field.callback": ("第三方回调", "Channel notification"),
    "payments.field.channel_ref": ("第三方单号", "Channel reference"),
    "payments.field.created_at": ("发起时间", "Created"),
    "payments.field.paid_at": ("支付时间", "Paid"),
    "payments.field.created_from": ("发起时间从", "Created from"),
    "payments.field.created_to": ("发起时间至", "Created until"),
    "payments.field.paid_from": ("支付时间从", "Paid from"),
    "payments.field.paid_to": ("支付时间至", "Paid until"),
    "payments.field.duration": ("消费时长", "Charging time"),
    "payments.field.refund_number": ("退款单号", "Refund number"),
    "payments.field.payee": ("收款人", "Payee"),
    "payments.field.order_total": ("订单费用 (元)", "Order total (yuan)"),
    "payments.field.paid_total": ("支付金额 (元)", "Paid (yuan)"),
    "payments.field.refund_amount": ("退费金额 (元)", "Refunded (yuan)"),
    "payments.field.operator": ("操作者", "Operator"),
    "payments.field.refund_state": ("退费状态", "Refund state"),
    "payments.field.refund_kind": ("退款类型", "Refund type"),
    "payments.refund_kind.prepaid": ("预付退款", "Prepayment refund"),
    "payments.field.reason": ("退款原因", "Reason"),
    "payments.field.applied_at": ("申请时间", "Applied"),
    "payments.field.done_at": ("退款时间", "Refunded"),
    "payments.field.applied_from": ("申请时间从", "Applied from"),
    "payments.field.applied_to": ("申请时间至", "Applied until"),
    "payments.field.done_from": ("退款时间从", "Refunded from"),
    "payments.field.done_to": ("退款时间至", "Refunded until"),
    "payments.field.payment_number": ("支付编号", "Payment number"),
    "payments.field.result": ("退款结果", "Result"),
    "payments.error.channel": ("未知的支付渠道", "Unknown payment channel"),
    "payments.error.order_state": (
        "该订单状态不能再预付",
        "This order can no longer be prepaid",
    ),
    "payments.error.mismatch": (
        "回调的金额或单号与支付订单不一致",
        "The notification's amount or number differs from the payment's",
    ),
    "payments.error.refund_split": (
        "退费金额超过单笔支付可退金额，请分次退费",
        "The refund exceeds what one payment can return; refund in parts",
    ),
    "payments.sim.page": (
        "模拟支付：无需操作，模拟渠道会自动完成支付并回调平台。",
        "Simulated payment: nothing to do, the simulated channel pays and notifies by itself.",
    ),
}

i18n.register(TEXTS)
