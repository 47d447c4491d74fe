"""What receivers answer: an endless body, a redirect, a body cut off after a 2xx."""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rxdesk.domain.models import DeliveryStatus
from rxdesk.services import Desk
from rxdesk.services.maintenance import MaintenanceService
from rxdesk.services.webhooks import EXCERPT
from tests.helpers import make_appointment
from tests.receiver import Receiver

pytestmark = pytest.mark.backends


class Answering:
    """A receiver whose `answer(handler)` writes the whole response itself."""

    def __init__(self, answer: Any) -> None:
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                outer.requests += 1
                try:
                    answer(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading, as it should

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def one_cancellation(desk: Desk, url: str, now) -> None:  # type: ignore[no-untyped-def]
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
def test_only_the_start_of_an_answer_is_kept_and_a_2xx_counts(clinic: Desk, now, answer, code) -> None:  # type: ignore[no-untyped-def]
    receiver = Answering(answer)
    try:
        one_cancellation(clinic, receiver.url, now)
        report = MaintenanceService(clinic).tick()
    finally:
        receiver.close()
    assert report.delivered == 1 and receiver.requests == 1
    (delivery,) = clinic.webhooks.list_deliveries().items
    assert delivery.status is DeliveryStatus.delivered and delivery.last_status_code == code
    assert 0 < len(delivery.response_excerpt) <= EXCERPT


def test_redirects_are_not_followed(clinic: Desk, now) -> None:  # type: ignore[no-untyped-def]
    elsewhere = Receiver()

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("location", elsewhere.url + "/stolen")
        handler.send_header("content-length", "0")
        handler.end_headers()

    receiver = Answering(redirect)
    try:
        one_cancellation(clinic, receiver.url, now)
        report = MaintenanceService(clinic).tick()
    finally:
        receiver.close()
        elsewhere.close()
    assert report.retrying == 1 and elsewhere.received == []
    (delivery,) = clinic.webhooks.list_deliveries().items
    assert delivery.status is DeliveryStatus.pending and delivery.last_error == "answered 307"
