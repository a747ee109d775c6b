"""ANPR camera pushes (Vzenith JSON, Hikvision ISAPI XML) read into one PlateRead; replies."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from enum import StrEnum
from typing import Any
from xml.etree import ElementTree

from protocols.plates import PlateColor, color_from_name, color_from_vzenith, normalize_plate

JPEG_MAGIC = b"\xff\xd8"
MAX_PLATE_CHARS = 16


class Vendor(StrEnum):
    vzenith = "vzenith"
    hikvision = "hikvision"


class BadPush(ValueError):
    """A camera push that cannot be understood; the message names the offending field."""


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One plate result as any camera reports it; plate "" means the camera saw no plate."""

    vendor: Vendor
    plate: str
    color: PlateColor
    confidence: int
    read_at: datetime
    camera_serial: str = ""
    camera_ip: str = ""
    camera_mac: str = ""
    snapshot: bytes | None = None


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A camera saying it is alive; answered with HEARTBEAT_REPLY."""

    vendor: Vendor
    camera_serial: str = ""
    camera_ip: str = ""


Push = PlateRead | Heartbeat

HEARTBEAT_REPLY: dict[str, str] = {"status": "ok"}


# --- Vzenith -------------------------------------------------------------------------------------


def _field(data: Any, path: str) -> Any:
    """Walk a dotted path through nested JSON objects, naming the first missing step."""
    node = data
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if not isinstance(node, dict) or part not in node:
            raise BadPush(f"{'.'.join(walked)}: missing")
        node = node[part]
    return node


def _int_field(data: Any, path: str, low: int, high: int) -> int:
    value = _field(data, path)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise BadPush(f"{path}: expected an integer, got {value!r}")
    if not low <= int(value) <= high:
        raise BadPush(f"{path}: {value} is out of range {low}..{high}")
    return int(value)


def _str_field(data: Any, path: str, default: str | None = None) -> str:
    try:
        value = _field(data, path)
    except BadPush:
        if default is None:
            raise
        return default
    if not isinstance(value, str):
        raise BadPush(f"{path}: expected a string, got {type(value).__name__}")
    return value


def _plate_field(raw: str, path: str) -> str:
    plate = normalize_plate(raw)
    if len(plate) > MAX_PLATE_CHARS:
        raise BadPush(f"{path}: {len(plate)} characters is too long for a plate")
    return plate


def _jpeg(data: bytes, field: str) -> bytes:
    if not data.startswith(JPEG_MAGIC):
        raise BadPush(f"{field}: not a JPEG image")
    return data


def _base64_jpeg(value: Any, field: str) -> bytes | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise BadPush(f"{field}: expected base64 text")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadPush(f"{field}: not valid base64") from None
    return _jpeg(data, field)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadPush(f"body: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise BadPush("body: expected a JSON object")
    return data


def parse_vzenith(body: bytes) -> Push:
    """A Vzenith AlarmInfoPlate push or heartbeat."""
    data = _json_object(body)
    heartbeat = next((key for key in data if key.lower() == "heartbeat"), None)
    if heartbeat is not None:
        inner = data[heartbeat] if isinstance(data[heartbeat], dict) else {}
        serial = data.get("serialno", inner.get("serialno", ""))
        return Heartbeat(Vendor.vzenith, camera_serial=str(serial))
    info = _field(data, "AlarmInfoPlate")
    result = "AlarmInfoPlate.result.PlateResult"
    seconds = _int_field(data, f"{result}.timeStamp.Timeval.sec", 0, 2**41)
    return PlateRead(
        vendor=Vendor.vzenith,
        plate=_plate_field(_str_field(data, f"{result}.license"), f"{result}.license"),
        color=color_from_vzenith(_int_field(data, f"{result}.colorType", 0, 255)),
        confidence=_int_field(data, f"{result}.confidence", 0, 100),
        read_at=datetime.fromtimestamp(seconds, UTC),
        camera_serial=_str_field(info, "serialno", ""),
        camera_ip=_str_field(info, "ipaddr", ""),
        snapshot=_base64_jpeg(_field(data, result).get("imageFile"), f"{result}.imageFile"),
    )


def vzenith_reply(open_barrier: bool, serial_data: list[bytes] | None = None) -> dict[str, Any]:
    """The reply a Vzenith camera acts on: info "ok" pulses its relay, "no" keeps it shut."""
    reply: dict[str, Any] = {"info": "ok" if open_barrier else "no"}
    if serial_data:
        reply["serialData"] = [
            {
                "serialChannel": 0,
                "data": base64.b64encode(frame).decode("ascii"),
                "dataLen": len(frame),
            }
            for frame in serial_data
        ]
    return {"Response_AlarmInfoPlate": reply}


def reply_opens(reply: Any) -> bool:
    """What a Vzenith camera does with a reply: True when its relay would open the barrier."""
    if not isinstance(reply, dict):
        return False
    inner = reply.get("Response_AlarmInfoPlate")
    return isinstance(inner, dict) and inner.get("info") == "ok"


# --- Hikvision ISAPI ---------------------------------------------------------------------------

_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def _xml_root(body: bytes) -> ElementTree.Element:
    # Refusing DOCTYPE up front rules out entity expansion and external entities entirely.
    if _DOCTYPE.search(body):
        raise BadPush("xml: DOCTYPE and ENTITY declarations are not accepted")
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise BadPush(f"xml: not well-formed ({exc})") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_text(root: ElementTree.Element, path: str, required: bool = True) -> str:
    node: ElementTree.Element | None = root
    for part in path.split("."):
        node = next((child for child in node or [] if _local(child.tag) == part), None)
        if node is None:
            if required:
                raise BadPush(f"{_local(root.tag)}.{path}: missing")
            return ""
    return (node.text or "").strip() if node is not None else ""


def _iso_time(text: str, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadPush(f"{field}: not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise BadPush(f"{field}: time has no UTC offset: {text!r}")
    return moment.astimezone(UTC)


def _hikvision_xml(body: bytes, snapshot: bytes | None) -> Push:
    root = _xml_root(body)
    if _local(root.tag) != "EventNotificationAlert":
        raise BadPush(f"xml: root element is {_local(root.tag)}, not EventNotificationAlert")
    ip = _xml_text(root, "ipAddress", required=False)
    mac = _xml_text(root, "macAddress", required=False).lower()
    event_type = _xml_text(root, "eventType")
    # ISAPI cameras send an inactive "videoloss" alert as their heartbeat.
    if event_type.lower() == "videoloss":
        return Heartbeat(Vendor.hikvision, camera_serial=mac, camera_ip=ip)
    if event_type != "ANPR":
        raise BadPush(f"EventNotificationAlert.eventType: {event_type!r} is not ANPR")
    confidence_text = _xml_text(root, "ANPR.confidenceLevel", required=False) or "100"
    if not confidence_text.isdigit() or int(confidence_text) > 100:
        raise BadPush(f"EventNotificationAlert.ANPR.confidenceLevel: {confidence_text!r}")
    plate_path = "EventNotificationAlert.ANPR.licensePlate"
    return PlateRead(
        vendor=Vendor.hikvision,
        plate=_plate_field(_xml_text(root, "ANPR.licensePlate"), plate_path),
        color=color_from_name(_xml_text(root, "ANPR.plateColor", required=False)),
        confidence=int(confidence_text),
        read_at=_iso_time(_xml_text(root, "dateTime"), "EventNotificationAlert.dateTime"),
        camera_serial=mac,
        camera_ip=ip,
        camera_mac=mac,
        snapshot=snapshot,
    )


def _multipart_parts(body: bytes, content_type: str) -> list[tuple[str, str, bytes]]:
    """(content type, file name, payload) of each part of a multipart body."""
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    if not message.is_multipart():
        raise BadPush("body: multipart boundary not found")
    parts: list[tuple[str, str, bytes]] = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            name = part.get_filename() or part.get_param("name", header="content-disposition")
            parts.append((part.get_content_type(), str(name or ""), payload))
    return parts


def parse_hikvision(body: bytes, content_type: str) -> Push:
    """A Hikvision ISAPI EventNotificationAlert, as plain XML or multipart with its pictures."""
    if not content_type.lower().startswith("multipart/"):
        return _hikvision_xml(body, None)
    parts = _multipart_parts(body, content_type)
    xml = next((data for kind, _, data in parts if kind.endswith("xml")), None)
    if xml is None:
        raise BadPush("multipart: no XML part with the EventNotificationAlert")
    pictures = {name: data for kind, name, data in parts if kind == "image/jpeg"}
    # The scene picture is what a person checking a record wants to see; the plate crop is second.
    chosen = next(
        (data for name, data in pictures.items() if name.startswith("detection")),
        next(iter(pictures.values()), None),
    )
    return _hikvision_xml(xml, _jpeg(chosen, "multipart: picture") if chosen else None)


def parse_push(body: bytes, content_type: str) -> Push:
    """Any supported camera push, told apart by its content type and first byte."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind.startswith("multipart/") or kind.endswith("xml") or body.lstrip()[:1] == b"<":
        return parse_hikvision(body, content_type)
    return parse_vzenith(body)
