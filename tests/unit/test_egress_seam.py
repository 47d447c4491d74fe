"""The seam between httpx and rxdesk's destination policy, through public APIs only: an
`httpx.BaseTransport` over an `httpcore.ConnectionPool` whose network backend resolves, checks
and connects. If a test here fails after an upgrade of httpx or httpcore, webhooks and SMS may
be going out unchecked or without their deadline: mend `rxdesk/services/egress.py` first."""

from __future__ import annotations

import inspect

import httpcore
import httpx
import pytest

from rxdesk.services import egress
from tests.receiver import Receiver


def test_the_libraries_still_offer_the_public_seam_rxdesk_plugs_into() -> None:
    assert httpcore.__version__.split(".")[0] == "1", "a new httpcore major: check egress's backend and streams"
    assert "network_backend" in inspect.signature(httpcore.ConnectionPool.__init__).parameters
    ours = inspect.signature(egress.GuardedBackend.connect_tcp).parameters
    theirs = inspect.signature(httpcore.NetworkBackend.connect_tcp).parameters
    assert list(ours) == list(theirs), "httpcore's NetworkBackend.connect_tcp changed its parameters"
    for method in ("read", "write", "close", "start_tls", "get_extra_info"):
        assert method in egress._DeadlineStream.__dict__, f"the deadline stream lacks {method}"
        assert callable(getattr(httpcore.NetworkStream, method)), f"httpcore.NetworkStream has no {method} any more"
    assert issubclass(egress.GuardedTransport, httpx.BaseTransport)
    assert "handle_request" in egress.GuardedTransport.__dict__


def test_every_request_goes_through_the_guarded_backend(receiver: Receiver) -> None:
    with egress.outbound_client(allow_private=False) as strict, pytest.raises(httpx.ConnectError) as refused:
        strict.post(receiver.url + "/hook", content=b"{}")
    assert receiver.received == [], "a request reached a loopback address past the policy"
    assert "127.0.0.1 is a loopback address" in (egress.failure_reason(refused.value) or "")

    with egress.outbound_client(allow_private=True) as allowed:
        answer = allowed.post(receiver.url + "/hook", content=b'{"a": 1}', headers={"x-shop": "riverside"})
        assert answer.status_code == 200 and answer.json() == {"ok": True}
    (got,) = receiver.received
    assert got.path == "/hook" and got.body == b'{"a": 1}' and got.headers["x-shop"] == "riverside"


def test_errors_come_back_as_httpx_errors_with_their_cause(receiver: Receiver) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    receiver.close()  # nobody listens there any more
    with egress.outbound_client(allow_private=True) as client, pytest.raises(httpx.ConnectError) as info:
        client.post(f"http://127.0.0.1:{port}/hook", content=b"{}")
    assert isinstance(info.value.__cause__, httpcore.ConnectError)
