"""Each recipient's reminder is written for them, read back from a real SMTP server (aiosmtpd)
and a real SMS gateway: the patient's names the doctor, the type and the room, in the
organisation's zone; the doctor's names the patient, in the doctor's zone; an admin's names
both. Hostile names (markup, control characters, HTML) arrive harmless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest

from rxdesk.config import Settings
from rxdesk.domain import reminder_text
from rxdesk.domain.models import RecipientGroup
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from tests.helpers import make_appointment
from tests.mailserver import Inbox, serving
from tests.receiver import Receiver
from tests.unit.test_worker import only_rule

pytestmark = pytest.mark.backends

HOSTILE = 'Eve <script>alert(1)</script> "&" [b]bold[/b]'


def send_reminders(clinic: Desk, settings: Settings, group: str, *, doctor: str = "dr-osei",
                   patient_name: str | None = None) -> tuple[list[Any], list[Any]]:
    """Fire one `group` rule for an appointment with Dr Osei (New York) and Lena Fischer;
    what the SMTP server and the SMS gateway received."""
    inbox, gateway = Inbox(), Receiver()
    try:
        with serving(inbox) as port:
            desk = Desk(clinic.store, clinic.clock, settings.with_overrides(
                smtp_url=f"smtp://127.0.0.1:{port}", mail_from="desk@riverside.example", sms_url=gateway.url + "/sms"))
            with desk.store.write() as view:
                view.doctors.put(view.doctors.require("dr-osei").model_copy(update={"mobile_phone": "+12125550199"}))
                for admin in view.admins.all():
                    view.admins.put(admin.model_copy(update={"phone": "+4915112345678"}))
                if patient_name is not None:
                    view.patients.put(view.patients.require("pat-001").model_copy(update={"name": patient_name}))
            only_rule(desk, "gp-consult", group, 60, email=True, sms=True)
            make_appointment(desk, start=desk.clock.now() + timedelta(minutes=30), doctor_id=doctor)
            MaintenanceService(desk).tick()
    finally:
        gateway.close()
    return list(zip([e.rcpt_tos for e in inbox.envelopes], inbox.received, strict=True)), [r.json() for r in gateway.received]


def plain_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def html_of(message: EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def test_the_patient_gets_the_doctor_the_type_and_the_room_in_the_clinics_zone(clinic: Desk, settings: Settings) -> None:
    (((to,), mail),), (sms,) = send_reminders(clinic, settings, "patient")
    assert to == "lena.fischer@mail.example"
    body = plain_of(mail)
    assert body.startswith("Hello Lena Fischer,")
    assert "your GP video consultation with Dr Kwame Osei on Mon 2026-11-23 09:30 (Europe/Berlin)" in body
    assert "Join the video call: https://meet.jit.si/dr-kwame-osei" in body
    assert '<a href="https://meet.jit.si/dr-kwame-osei' in html_of(mail)
    assert mail["Subject"] == "Reminder: your GP video consultation with Dr Kwame Osei on Mon 2026-11-23 09:30 (Europe/Berlin)"
    assert sms["to"] == "+491705550101" and "Dr Kwame Osei" in sms["body"] and "meet.jit.si" in sms["body"]
    assert reminder_text.gsm7_length(sms["body"]) is not None and len(sms["body"]) <= 160


def test_the_doctor_gets_the_patient_in_their_own_zone(clinic: Desk, settings: Settings) -> None:
    (((to,), mail),), (sms,) = send_reminders(clinic, settings, "doctor")
    body = plain_of(mail)
    assert body.startswith("Hello Dr Kwame Osei,")
    assert "with Lena Fischer on Mon 2026-11-23 03:30 (America/New_York)" in body
    assert body.count("Kwame Osei") == 1  # greeted, never named as their own counterpart
    assert sms["to"] == "+12125550199" and "Lena Fischer" in sms["body"] and "America/New_York" in sms["body"]


def test_each_admin_gets_both_names(clinic: Desk, settings: Settings) -> None:
    mails, texts = send_reminders(clinic, settings, "admin")
    assert len(mails) == 2 and len(texts) == 2
    for _, mail in mails:
        body = plain_of(mail)
        assert "Lena Fischer has a GP video consultation with Dr Kwame Osei on Mon 2026-11-23 09:30 (Europe/Berlin)" in body
    assert all("Lena Fischer with Dr Kwame Osei" in t["body"] for t in texts)


def test_a_hostile_name_arrives_as_text_never_as_markup(clinic: Desk, settings: Settings) -> None:
    (((_to,), mail),), (sms,) = send_reminders(clinic, settings, "doctor", patient_name=HOSTILE)
    body, html = plain_of(mail), html_of(mail)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&quot;&amp;&quot;" in html
    assert HOSTILE in body and HOSTILE in mail["Subject"]  # plain text says it as written
    assert HOSTILE[:30] in sms["body"]


def test_control_characters_in_a_stored_name_never_reach_a_header_or_a_body() -> None:
    """Names written before today's input rules may hold them: a line break would start a new
    header (`Bcc:`), an escape would colour a terminal mail reader, an override reorder text."""
    name = 'Eve\x1b[31mRed\u202e\r\nBcc: all@x.example\x00'
    for group in RecipientGroup:
        text = reminder_text.email(group, name, facts(patient_name=name, doctor_name=name))
        sms = reminder_text.sms(group, facts(patient_name=name, doctor_name=name))
        for part in (text.subject, text.body.replace("\n", " "), sms.body, reminder_text.html_alternative(text.body)):
            assert not any(c in part for c in "\x1b\u202e\r\x00"), part
        assert "\n" not in text.subject and "Eve[31mRed Bcc: all@x.example" in text.subject + text.body


START = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def facts(**names: str) -> reminder_text.ReminderFacts:
    values: dict[str, Any] = dict(uid="0x9k7qm2xz4abc", type_name="GP video consultation", starts_at=START,
                  room_url="https://meet.jit.si/dr-anna-weber-99xkk500vy", patient_name="Lena Fischer",
                  doctor_name="Dr Anna Weber", org_zone="Europe/Berlin", doctor_zone="Europe/Berlin")
    return reminder_text.ReminderFacts(**{**values, **names})


def test_an_sms_leaves_out_the_type_first_then_shortens_names_never_the_time_or_link() -> None:
    short = reminder_text.sms(RecipientGroup.patient, facts())
    assert "GP video consultation" in short.body and len(short.body) <= 160
    long_names = facts(doctor_name="Dr Alexandra Konstantinopoulou-Vanderbilt-Featherstonehaugh",
                       patient_name="Maximiliane Wolkenstein-Rabensburg von Hohenberg")
    admin = reminder_text.sms(RecipientGroup.admin, long_names).body
    assert reminder_text.sms_length(admin) <= 160
    assert "GP video consultation" not in admin and "Mon 2026-11-23 10:30 (Europe/Berlin)" in admin
    assert "Dr Alexandra Konst" in admin and "." in admin.split(" with ")[1]
    patient = reminder_text.sms(RecipientGroup.patient, long_names).body
    assert patient.endswith("Join: https://meet.jit.si/dr-anna-weber-99xkk500vy")
    assert reminder_text.sms_length(patient) <= 160
    # GSM-7: the extension characters count twice, and a letter outside it is kept as written.
    assert reminder_text.gsm7_length("[€]") == 6 and reminder_text.gsm7_length("Łukasz") is None
    polish = reminder_text.sms(RecipientGroup.doctor, facts(patient_name="Łukasz Żółw")).body
    assert "Łukasz Żółw" in polish
