"""The files a citizen gets for a workshop: the calendar entry and the check-in QR.

The .ics is written by hand (RFC 5545, no library needed for one event):
times in UTC (``...Z``), which every calendar converts to the phone's own
zone, so no VTIMEZONE block can be wrong; text escaped and lines folded at
75 octets. The QR code (``qrcode`` with Pillow) encodes the deep link
``https://t.me/<bot>?start=checkin-<token>`` that staff scan at the door.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from conversations.i18n import pick
from storage.workshops import WorkshopRecord

CHECKIN_PREFIX = "checkin"


def checkin_payload(token: str) -> str:
    return f"{CHECKIN_PREFIX}-{token}"


def checkin_link(bot_username: str, token: str) -> str:
    """The link in the QR code. Without the bot's username (getMe failed at
    start-up) the bare ``/start`` payload still lets staff type it in."""
    payload = checkin_payload(token)
    if not bot_username:
        return f"/start {payload}"
    return f"https://t.me/{bot_username}?start={payload}"


def qr_png(text: str) -> bytes:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(text)
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _ics_text(value: str) -> str:
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _ics_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> list[str]:
    """RFC 5545 §3.1: lines of at most 75 octets, continued with a space."""
    out, current = [], ""
    for char in line:
        limit = 75 if not out else 74
        if len((current + char).encode()) > limit:
            out.append(current)
            current = char
        else:
            current += char
    out.append(current)
    return [out[0], *(" " + part for part in out[1:])]


def ics(workshop: WorkshopRecord, language: str, *, uid: str, now: datetime,
        default_language: str = "es") -> bytes:
    """One VEVENT for this workshop, in the citizen's language."""
    description = pick(workshop.description, language, default_language)
    location = workshop.place or workshop.online_url or ""
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Participa//Workshops//EN",
        "CALSCALE:GREGORIAN", "METHOD:PUBLISH", "BEGIN:VEVENT",
        f"UID:{uid}", f"DTSTAMP:{_ics_time(now)}",
        f"DTSTART:{_ics_time(workshop.starts_at)}", f"DTEND:{_ics_time(workshop.ends_at)}",
        f"SUMMARY:{_ics_text(pick(workshop.title, language, default_language))}",
    ]
    if description:
        lines.append(f"DESCRIPTION:{_ics_text(description)}")
    if location:
        lines.append(f"LOCATION:{_ics_text(location)}")
    link = workshop.online_url or workshop.map_url
    if link:
        lines.append(f"URL:{link}")
    lines += ["STATUS:CONFIRMED" if workshop.status == "scheduled" else "STATUS:CANCELLED",
              "END:VEVENT", "END:VCALENDAR"]
    folded = [part for line in lines for part in _fold(line)]
    return ("\r\n".join(folded) + "\r\n").encode()


def ics_name(workshop: WorkshopRecord) -> str:
    return f"{workshop.slug}.ics"
