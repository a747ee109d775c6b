"""Camera push normalisation against the real vendor fixtures, and the replies cameras act on."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from firmware_sim.camera import alarm_info_plate
from firmware_sim.snapshot import SNAPSHOT_JPEG
from protocols.camera import (
    BadPush,
    Heartbeat,
    PlateRead,
    Vendor,
    parse_hikvision,
    parse_push,
    reply_opens,
    vzenith_reply,
)
from protocols.plates import PlateColor

FIXTURES = Path(__file__).parents[3] / "shared" / "fixtures" / "camera"
BOUNDARY = "boundary-7d9a3b"


def vzenith_fixture(**changes: Any) -> dict[str, Any]:
    """The fixture with its placeholder pictures swapped for real JPEGs, then `changes` applied."""
    data: dict[str, Any] = json.loads((FIXTURES / "vzenith-alarm-info-plate.json").read_bytes())
    result = data["AlarmInfoPlate"]["result"]["PlateResult"]
    result["imageFile"] = base64.b64encode(SNAPSHOT_JPEG).decode()
    result["imageFragmentFile"] = base64.b64encode(SNAPSHOT_JPEG).decode()
    result.update(changes)
    return data


def body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def hikvision_multipart(xml: bytes) -> tuple[bytes, str]:
    """An ISAPI alert as cameras send it: the XML part, then the plate and scene pictures."""
    parts = [
        (b'name="anpr.xml"; filename="anpr.xml"', b"application/xml", xml),
        (
            b'name="licensePlatePicture.jpg"; filename="licensePlatePicture.jpg"',
            b"image/jpeg",
            SNAPSHOT_JPEG,
        ),
        (
            b'name="detectionPicture.jpg"; filename="detectionPicture.jpg"',
            b"image/jpeg",
            SNAPSHOT_JPEG + b"scene",
        ),
    ]
    out = b""
    for disposition, kind, payload in parts:
        out += b"--" + BOUNDARY.encode() + b"\r\n"
        out += b"Content-Disposition: form-data; " + disposition + b"\r\n"
        out += b"Content-Type: " + kind + b"\r\n\r\n" + payload + b"\r\n"
    out += b"--" + BOUNDARY.encode() + b"--\r\n"
    return out, f"multipart/form-data; boundary={BOUNDARY}"


def test_vzenith_fixture() -> None:
    read = parse_push(body(vzenith_fixture()), "application/json")
    assert read == PlateRead(
        vendor=Vendor.vzenith,
        plate="粤B12345",
        color=PlateColor.blue,
        confidence=95,
        read_at=datetime.fromtimestamp(1763700000, UTC),
        camera_serial="e2a8d4f1-6b0c3d5e",
        camera_ip="192.168.1.100",
        snapshot=SNAPSHOT_JPEG,
    )
    assert read.read_at.tzinfo is UTC


def test_vzenith_fixture_placeholder_picture_is_named() -> None:
    raw = (FIXTURES / "vzenith-alarm-info-plate.json").read_bytes()
    with pytest.raises(BadPush, match=r"PlateResult\.imageFile: not valid base64"):
        parse_push(raw, "application/json")


@pytest.mark.parametrize(
    ("code", "color"),
    [
        (0, "unknown"),
        (1, "blue"),
        (2, "yellow"),
        (3, "white"),
        (4, "black"),
        (5, "green"),
        (6, "yellow_green"),
        (42, "unknown"),
    ],
)
def test_vzenith_colour_codes(code: int, color: str) -> None:
    read = parse_push(body(vzenith_fixture(colorType=code)), "application/json")
    assert isinstance(read, PlateRead) and read.color == color


def test_vzenith_no_plate_and_separators() -> None:
    read = parse_push(body(vzenith_fixture(license="_无_")), "")
    assert isinstance(read, PlateRead) and read.plate == ""
    read = parse_push(body(vzenith_fixture(license="粤b·123 45")), "")
    assert isinstance(read, PlateRead) and read.plate == "粤B12345"


def test_vzenith_without_snapshot() -> None:
    data = vzenith_fixture()
    del data["AlarmInfoPlate"]["result"]["PlateResult"]["imageFile"]
    read = parse_push(body(data), "application/json")
    assert isinstance(read, PlateRead) and read.snapshot is None


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (b"{}", "AlarmInfoPlate"),
        (body({"AlarmInfoPlate": {"result": {}}}), "AlarmInfoPlate.result.PlateResult"),
        (body(vzenith_fixture(license=7)), "PlateResult.license"),
        (body(vzenith_fixture(license="粤B" + "1" * 30)), "PlateResult.license"),
        (body(vzenith_fixture(confidence=101)), "PlateResult.confidence"),
        (body(vzenith_fixture(confidence="high")), "PlateResult.confidence"),
        (body(vzenith_fixture(colorType=True)), "PlateResult.colorType"),
        (body(vzenith_fixture(timeStamp={"Timeval": {}})), "timeStamp.Timeval.sec"),
        (body(vzenith_fixture(imageFile=base64.b64encode(b"GIF89a").decode())), "imageFile"),
    ],
)
def test_vzenith_malformed_names_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(BadPush) as caught:
        parse_push(raw, "application/json")
    assert field in str(caught.value)


def test_simulator_body_parses_back() -> None:
    data = alarm_info_plate("SER-1", "京A1234警", PlateColor.white, 91)
    read = parse_push(body(data), "application/json")
    assert isinstance(read, PlateRead)
    assert (read.plate, read.color, read.confidence, read.camera_serial) == (
        "京A1234警",
        PlateColor.white,
        91,
        "SER-1",
    )


def test_vzenith_heartbeat() -> None:
    beat = parse_push(body({"heartbeat": {"countid": 3}, "serialno": "S1"}), "application/json")
    assert beat == Heartbeat(Vendor.vzenith, camera_serial="S1")


def test_vzenith_reply_builder_matches_fixture_shape() -> None:
    fixture = json.loads((FIXTURES / "vzenith-reply.json").read_bytes())
    reply = vzenith_reply(True, [b"\x01\x02"])
    assert reply.keys() == fixture.keys()
    assert reply["Response_AlarmInfoPlate"]["info"] == "ok"
    frame = reply["Response_AlarmInfoPlate"]["serialData"][0]
    assert frame.keys() == fixture["Response_AlarmInfoPlate"]["serialData"][0].keys()
    assert base64.b64decode(frame["data"]) == b"\x01\x02" and frame["dataLen"] == 2
    assert vzenith_reply(False) == {"Response_AlarmInfoPlate": {"info": "no"}}
    assert reply_opens(reply) and not reply_opens(vzenith_reply(False))
    assert not reply_opens("ok") and not reply_opens({"Response_AlarmInfoPlate": "ok"})


def test_hikvision_plain_xml_fixture() -> None:
    read = parse_push((FIXTURES / "hikvision-anpr-event.xml").read_bytes(), "application/xml")
    assert read == PlateRead(
        vendor=Vendor.hikvision,
        plate="京A12345",
        color=PlateColor.blue,
        confidence=98,
        read_at=datetime(2025, 11, 21, 4, 40, tzinfo=UTC),
        camera_serial="44:19:b6:00:00:01",
        camera_ip="192.168.1.64",
        camera_mac="44:19:b6:00:00:01",
    )


def test_hikvision_multipart_fixture_keeps_the_scene_picture() -> None:
    raw, content_type = hikvision_multipart((FIXTURES / "hikvision-anpr-event.xml").read_bytes())
    read = parse_push(raw, content_type)
    assert isinstance(read, PlateRead) and read.plate == "京A12345"
    assert read.snapshot == SNAPSHOT_JPEG + b"scene"


def test_hikvision_heartbeat() -> None:
    xml = (
        (FIXTURES / "hikvision-anpr-event.xml")
        .read_bytes()
        .replace(b"<eventType>ANPR</eventType>", b"<eventType>videoloss</eventType>")
    )
    beat = parse_push(xml, "application/xml")
    assert isinstance(beat, Heartbeat) and beat.camera_ip == "192.168.1.64"


ENTITY_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<EventNotificationAlert><eventType>ANPR</eventType><x>&lol2;</x></EventNotificationAlert>"""


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (ENTITY_BOMB, "DOCTYPE"),
        (b"<EventNotificationAlert><eventType>ANPR", "not well-formed"),
        (b"<Other/>", "EventNotificationAlert"),
        (b"<EventNotificationAlert/>", "eventType"),
        (
            b"<EventNotificationAlert><eventType>motion</eventType></EventNotificationAlert>",
            "eventType",
        ),
        (
            b"<EventNotificationAlert><eventType>ANPR</eventType>"
            b"<dateTime>2025-11-21T12:40:00+08:00</dateTime><ANPR/></EventNotificationAlert>",
            "licensePlate",
        ),
        (
            b"<EventNotificationAlert><eventType>ANPR</eventType><dateTime>noon</dateTime>"
            b"<ANPR><licensePlate>A</licensePlate></ANPR></EventNotificationAlert>",
            "dateTime",
        ),
    ],
)
def test_hikvision_malformed_names_the_problem(raw: bytes, field: str) -> None:
    with pytest.raises(BadPush) as caught:
        parse_push(raw, "application/xml")
    assert field in str(caught.value)


def test_hikvision_multipart_without_xml() -> None:
    raw = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n'
        f"Content-Type: text/plain\r\n\r\nhello\r\n--{BOUNDARY}--\r\n"
    ).encode()
    with pytest.raises(BadPush, match="no XML part"):
        parse_hikvision(raw, f"multipart/form-data; boundary={BOUNDARY}")
