"""What a reminder says to each recipient: every template of an email or SMS, in one place.

- The patient's names the doctor, the type and the room link, at the time of the
  organisation's zone.
- The doctor's names the patient, at the time of the doctor's own zone.
- An admin's names the patient and the doctor, at the time of the organisation's zone.

Names come from data and may hold anything: control characters and bidi overrides are
dropped (a line break in a name would start a new header line), and the HTML alternative of an
email escapes everything it shows. An SMS keeps to one 160-character GSM-7 part where it can:
when it is longer, the appointment type is left out first, then the names are shortened
(`Alexandra Konst.`); the time, its zone and the room link are never cut. A name with letters
outside GSM-7 (Ł, Greek, Cyrillic) is kept as written: that SMS goes as Unicode, in more parts.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from datetime import datetime

from rxdesk.domain.models import RecipientGroup
from rxdesk.domain.terminal import has_control
from rxdesk.domain.times import format_local

SMS_LIMIT = 160  # one GSM-7 part
SHORTEST_NAME = 6  # a shortened name keeps at least this many characters

# GSM 03.38: the basic set (one septet each) and the extension table (an escape and a septet).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
_LINK = re.compile(r"https?://[^\s<>\"']+")


def gsm7_length(text: str) -> int | None:
    """How many GSM-7 septets `text` takes, or None when it has a character GSM-7 lacks."""
    length = 0
    for char in text:
        if char in _GSM7_BASIC:
            length += 1
        elif char in _GSM7_EXTENDED:
            length += 2
        else:
            return None
    return length


def sms_length(text: str) -> int:
    """Septets for a GSM-7 text; characters for one GSM-7 cannot carry."""
    septets = gsm7_length(text)
    return septets if septets is not None else len(text)


def plain(text: str, limit: int = 120) -> str:
    """A name or title from data as one line of a message: controls and bidi overrides
    dropped, runs of spaces made one, at most `limit` characters."""
    kept = "".join(" " if char in "\t\n\r" else char for char in text if char in "\t\n\r" or not has_control(char))
    return " ".join(kept.split())[:limit]


@dataclass(frozen=True)
class MessageText:
    subject: str
    body: str


@dataclass(frozen=True)
class ReminderFacts:
    """What every reminder of one appointment may say."""

    uid: str
    type_name: str
    starts_at: datetime
    room_url: str
    patient_name: str
    doctor_name: str
    org_zone: str
    doctor_zone: str

    def zone_for(self, group: RecipientGroup) -> str:
        return self.doctor_zone if group is RecipientGroup.doctor else self.org_zone

    def when(self, group: RecipientGroup) -> str:
        zone = self.zone_for(group)
        return f"{format_local(self.starts_at, zone)} ({zone})"


def email(group: RecipientGroup, recipient_name: str, facts: ReminderFacts) -> MessageText:
    """The subject and plain-text body of one recipient's reminder email."""
    type_name, patient, doctor = plain(facts.type_name), plain(facts.patient_name), plain(facts.doctor_name)
    when, room = facts.when(group), plain(facts.room_url, 500)
    greeting = f"Hello {plain(recipient_name)},\n\n"
    footer = f"\nAppointment: {facts.uid}\n"
    if group is RecipientGroup.patient:
        return MessageText(
            f"Reminder: your {type_name} with {doctor} on {when}",
            f"{greeting}this is a reminder of your {type_name} with {doctor} on {when}.\n\n"
            f"Join the video call: {room or '(the link follows in another message)'}\n{footer}")
    if group is RecipientGroup.doctor:
        return MessageText(
            f"Reminder: {type_name} with {patient} on {when}",
            f"{greeting}this is a reminder of your {type_name} with {patient} on {when}.\n\n"
            f"Video room: {room or '(none set)'}\n{footer}")
    return MessageText(
        f"Reminder: {patient} with {doctor}, {type_name} on {when}",
        f"{greeting}{patient} has a {type_name} with {doctor} on {when}.\n\n"
        f"Video room: {room or '(none set)'}\n{footer}")


def _sms_of(group: RecipientGroup, facts: ReminderFacts, type_name: str) -> str:
    what = type_name or "appointment"
    when, room = facts.when(group), plain(facts.room_url, 500)
    if group is RecipientGroup.patient:
        return f"Reminder: {what} with {facts.doctor_name}, {when}." + (f" Join: {room}" if room else "")
    if group is RecipientGroup.doctor:
        return f"Reminder: {what} with {facts.patient_name}, {when}." + (f" Room: {room}" if room else "")
    return f"Reminder: {facts.patient_name} with {facts.doctor_name}, {what}, {when}."


def sms(group: RecipientGroup, facts: ReminderFacts) -> MessageText:
    """One recipient's reminder SMS, within SMS_LIMIT where it can be (see the module's
    note on what is cut first). The subject is for the outbox listing only."""
    facts = replace(facts, patient_name=plain(facts.patient_name), doctor_name=plain(facts.doctor_name))
    subject = f"Reminder SMS: {facts.when(group)}"
    text = _sms_of(group, facts, plain(facts.type_name))
    if sms_length(text) <= SMS_LIMIT:
        return MessageText(subject, text)
    text = _sms_of(group, facts, "")
    shown = {RecipientGroup.patient: ("doctor_name",), RecipientGroup.doctor: ("patient_name",)}.get(
        group, ("patient_name", "doctor_name"))
    while sms_length(text) > SMS_LIMIT:
        names = {key: str(getattr(facts, key)) for key in shown}
        longest = max(names, key=lambda k: len(names[k]))
        name = names[longest]
        if len(name) <= SHORTEST_NAME:
            break  # the time and the link are never cut: this one goes in more parts
        cut = (name[:-2].rstrip(". ") if name.endswith(".") else name[:-1].rstrip()) + "."
        facts = replace(facts, patient_name=cut) if longest == "patient_name" else replace(facts, doctor_name=cut)
        text = _sms_of(group, facts, "")
    return MessageText(subject, text)


def html_alternative(body: str) -> str:
    """The HTML part of an email: the plain text escaped, its paragraphs kept, links made
    clickable."""
    paragraphs = []
    for block in body.strip().split("\n\n"):
        lines = [_LINK.sub(lambda m: f'<a href="{m.group()}">{m.group()}</a>', html.escape(line, quote=True))
                 for line in block.split("\n")]
        paragraphs.append(f"<p>{'<br>'.join(lines)}</p>")
    return "<!DOCTYPE html>\n<html><body>\n" + "\n".join(paragraphs) + "\n</body></html>\n"
