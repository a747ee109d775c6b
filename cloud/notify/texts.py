"""Texts of the notify domain: message templates (sent in Chinese) and the message outbox page."""

from __future__ import annotations

from cloud import i18n

ENTRIES: dict[str, tuple[str, str]] = {
    # message templates: the body a phone receives (always rendered in Chinese)
    "notify.template.verification_code": ("短信验证码", "SMS verification code"),
    "notify.template.visit_request": ("访客预约审批提醒", "Visit request to approve"),
    "notify.template.visit_result": ("访客预约审批结果", "Visit request decided"),
    "notify.template.reception_notice": ("访客接待通知", "Visitor reception notice"),
    "notify.template.invitation": ("访客邀请", "Invitation"),
    "notify.template.invitation_confirmed": ("访客确认邀请通知", "Invitation confirmed"),
    "notify.body.verification_code": (
        "【{school}】您的验证码为 {code}，5 分钟内有效，请勿泄露给他人。",
        "[{school}] Your verification code is {code}, valid for 5 minutes. Do not share it.",
    ),
    "notify.body.visit_request": (
        "【{school}】{visitor} 预约于 {date} {slot} 来访，事由：{reason}。请在“我收到的”中审批。",
        "[{school}] {visitor} asks to visit on {date} ({slot}): {reason}. Please approve or reject.",
    ),
    "notify.body.visit_result.approved": (
        "【{school}】您预约 {date} {slot} 拜访 {host} 的申请已通过。请在预约时段内扫描校门二维码出示访客通行证。",
        "[{school}] Your visit to {host} on {date} ({slot}) is approved. Scan the gate's QR "
        "code during the slot to show your visitor pass.",
    ),
    "notify.body.visit_result.rejected": (
        "【{school}】您预约 {date} {slot} 拜访 {host} 的申请未通过，理由：{reject_reason}。",
        "[{school}] Your visit to {host} on {date} ({slot}) was rejected: {reject_reason}.",
    ),
    "notify.body.reception_notice": (
        "【{school}】访客 {visitor}（{visitor_phone}）将于 {date} {slot} 来访，事由：{reason}，请做好接待。",
        "[{school}] Visitor {visitor} ({visitor_phone}) comes on {date} ({slot}): {reason}. "
        "Please be ready to receive them.",
    ),
    "notify.body.invitation": (
        "【{school}】{host} 邀请您于 {date} {slot} 来访，事由：{reason}。请打开 {link} 确认邀请。",
        "[{school}] {host} invites you on {date} ({slot}): {reason}. Open {link} to confirm.",
    ),
    "notify.body.invitation_confirmed": (
        "【{school}】{visitor}（{visitor_phone}）已确认您 {date} {slot} 的来访邀请。",
        "[{school}] {visitor} ({visitor_phone}) confirmed your invitation for {date} ({slot}).",
    ),
    # verification codes
    "notify.code.phone_invalid": (
        "请输入正确的 11 位手机号",
        "Enter a valid 11-digit mobile number",
    ),
    "notify.code.too_soon": (
        "验证码发送太频繁，请 {seconds} 秒后再试",
        "Codes are sent at most once a minute; try again in {seconds} s",
    ),
    "notify.code.sent": ("验证码已发送，5 分钟内有效", "Code sent; it is valid for 5 minutes"),
    "notify.code.missing": ("请先获取验证码", "Ask for a code first"),
    "notify.code.expired": ("验证码已过期，请重新获取", "The code has expired; ask for a new one"),
    "notify.code.too_many": (
        "验证码错误次数过多，请重新获取",
        "Too many wrong attempts; ask for a new code",
    ),
    "notify.code.wrong": (
        "验证码错误，还可尝试 {left} 次",
        "Wrong code; {left} attempts left",
    ),
    # the message outbox page
    "notify.outbox.title": ("消息发件箱", "Message outbox"),
    "notify.field.channel": ("渠道", "Channel"),
    "notify.field.recipient": ("接收人", "Recipient"),
    "notify.field.template": ("消息模板", "Template"),
    "notify.field.body": ("内容", "Text"),
    "notify.field.state": ("状态", "State"),
    "notify.field.sent_at": ("时间", "Time"),
    "notify.channel.sms": ("短信", "SMS"),
    "notify.channel.wechat": ("微信", "WeChat"),
    "notify.state.held": ("已保留（开发渠道）", "Held (development channel)"),
    "notify.state.sent": ("已发送", "Sent"),
    "notify.state.failed": ("发送失败", "Failed"),
    "notify.filter.recipient": ("手机号或微信号", "Phone or WeChat id"),
    "notify.slot.morning": ("上午", "morning"),
    "notify.slot.afternoon": ("下午", "afternoon"),
    "notify.slot.evening": ("晚上", "evening"),
}

i18n.register(ENTRIES)
