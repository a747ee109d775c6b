"""The admin message outbox: what the development channel held, filtered, newest first, exported."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

from aiohttp import web
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from cloud.notify import service
from cloud.notify.models import Channel, Message, MessageState
from cloud.notify.service import Template
from tests.conftest import make_tenant, sign_in

Client = TestClient[web.Request, web.Application]


async def _messages(tenant_id: int) -> None:
    await service.send_code(tenant_id, "13800000000", "visitor_signin", "测试学校")
    for n in range(25):
        await service.notify(
            tenant_id,
            Template.reception_notice,
            "13900000001",
            {
                "school": "测试学校",
                "visitor": f"访客{n:02d}",
                "visitor_phone": "13800000000",
                "date": "2026-05-01",
                "slot": "上午",
                "reason": "交流",
            },
        )


async def test_outbox_lists_held_messages_newest_first_with_filters(cloud: Client) -> None:
    admin = await make_tenant("school")
    other = await make_tenant("other")
    await _messages(admin.tenant.id)
    await service.notify(
        other.tenant.id,
        Template.invitation,
        "13700000000",
        {
            "school": "别校",
            "host": "外校老师",
            "date": "d",
            "slot": "s",
            "reason": "r",
            "link": "l",
        },
    )
    await sign_in(cloud, admin.account, admin.password)
    page = await (await cloud.get("/messages")).text()
    assert "消息发件箱" in page and "已保留（开发渠道）" in page
    assert "访客24" in page and "访客05" in page and "访客04" not in page  # 20 a page, newest first
    assert page.index("访客24") < page.index("访客23")
    assert "外校老师" not in page  # another school's messages are not here
    sms = await (await cloud.get("/messages?channel=sms")).text()
    code = (await Message.get(template="verification_code")).params["code"]
    assert re.search(rf"验证码为 {code}", sms) and "访客24" not in sms
    by_template = await (await cloud.get("/messages?template=reception_notice&page=2")).text()
    assert "访客04" in by_template and "验证码为" not in by_template
    by_phone = await (await cloud.get("/messages?recipient=1380000")).text()
    assert "验证码为" in by_phone and not re.search(r"访客\d\d", by_phone)
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    empty = await (await cloud.get(f"/messages?sent_from={future}")).text()
    assert not re.search(r"访客\d\d", empty) and "验证码为" not in empty
    export = await cloud.get("/messages/export.xlsx?channel=wechat")
    book = load_workbook(io.BytesIO(await export.read()), read_only=True)
    rows = list(book.active.iter_rows(values_only=True))
    assert len(rows) == 26 and rows[0][0] == "时间"  # header + 25 notices
    assert all(row[1] == "微信" for row in rows[1:])


async def test_outbox_needs_the_messages_permission(cloud: Client) -> None:
    clerk = await make_tenant("school", admin=False, permissions=["access.view"])
    await sign_in(cloud, clerk.account, clerk.password)
    assert (await cloud.get("/messages")).status == 403
    reader = await make_tenant("reader", admin=False, permissions=["messages.view"])
    cloud.session.cookie_jar.clear()
    await sign_in(cloud, reader.account, reader.password)
    assert (await cloud.get("/messages")).status == 200


async def test_a_real_gateway_plugs_in_per_channel_and_never_keeps_codes(db: str) -> None:
    admin = await make_tenant("school")
    sent: list[str] = []

    class Gateway:
        async def send(self, message: Message) -> MessageState:
            sent.append(message.body)
            return MessageState.sent

    class Broken:
        async def send(self, message: Message) -> MessageState:
            raise ConnectionError("gateway down")

    previous = service.use_notifier(Channel.sms, Gateway())
    try:
        message = await service.send_code(admin.tenant.id, "13800000000", "p", "学校")
    finally:
        service.use_notifier(Channel.sms, previous)
    assert message.state is MessageState.sent and len(sent) == 1
    code = re.search(r"\d{6}", sent[0])
    assert code is not None  # the phone got the code...
    stored = await Message.get(id=message.id)
    assert (
        code.group(0) not in stored.body and stored.params["code"] == service.MASK
    )  # ...not the db
    previous = service.use_notifier(Channel.wechat, Broken())
    try:
        failed = await service.notify(
            admin.tenant.id,
            Template.invitation_confirmed,
            "13900000001",
            {"school": "s", "visitor": "v", "visitor_phone": "p", "date": "d", "slot": "s"},
        )
    finally:
        service.use_notifier(Channel.wechat, previous)
    assert failed.state is MessageState.failed and "gateway down" in failed.detail
