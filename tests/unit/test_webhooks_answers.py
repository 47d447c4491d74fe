"""What receivers answer: an endless body, a redirect, a body cut off after a 2xx."""

from __future__ import annotations

from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler

import pytest

from rxdesk.domain.models import DeliveryStatus
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.services.webhooks import EXCERPT
from tests.helpers import make_appointment
from tests.receiver import Answer, Receiver

pytestmark = pytest.mark.backends


def one_cancellation(desk: Desk, url: str, now: datetime) -> None:
    desk.webhooks.add_subscription(url, ["APPOINTMENT_CANCELLED"], {}, "tester", allow_private_network=True)
    appt = make_appointment(desk, start=now + timedelta(days=1))
    desk.appointments.cancel_appointment(appt.uid, "moved away", "tester")


def endless(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("content-length", str(1 << 30))  # claims a gigabyte
    handler.end_headers()
    chunk = b"x" * 65536
    for _ in range(1 << 14):
        handler.wfile.write(chunk)


def cut_off(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(202)
    handler.send_header("content-length", "1000")
    handler.end_headers()
    handler.wfile.write(b'{"queued": true')  # and the connection closes


@pytest.mark.parametrize("answer, code", [(endless, 200), (cut_off, 202)])
def test_only_the_start_of_an_answer_is_kept_and_a_2xx_counts(clinic: Desk, now: datetime, answer: Answer, code: int,
                                                              receiver: Receiver) -> None:
    receiver.answer = answer
    one_cancellation(clinic, receiver.url, now)
    report = MaintenanceService(clinic).tick()
    assert report.delivered == 1 and len(receiver.received) == 1
    (delivery,) = clinic.webhooks.list_deliveries().items
    assert delivery.status is DeliveryStatus.delivered and delivery.last_status_code == code
    assert 0 < len(delivery.response_excerpt) <= EXCERPT


def test_redirects_are_not_followed(clinic: Desk, now: datetime, receiver: Receiver) -> None:
    elsewhere = Receiver()

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("location", elsewhere.url + "/stolen")
        handler.send_header("content-length", "0")
        handler.end_headers()

    receiver.answer = redirect
    with elsewhere:
        one_cancellation(clinic, receiver.url, now)
        report = MaintenanceService(clinic).tick()
    assert report.retrying == 1 and elsewhere.received == []
    (delivery,) = clinic.webhooks.list_deliveries().items
    assert delivery.status is DeliveryStatus.pending and delivery.last_error == "answered 307"
