"""What rxdesk takes from smtplib beyond its public API (services/smtplib_gaps.py) is still
there: if a Python upgrade changes one, this fails before the deadline of an SMTP attempt
silently stops holding."""

from __future__ import annotations

import inspect
import smtplib

from rxdesk.services.smtplib_gaps import AbortableSMTP, AbortableSMTPSSL


def test_connect_makes_its_socket_through_get_socket_with_host_port_and_timeout() -> None:
    assert list(inspect.signature(smtplib.SMTP._get_socket).parameters) == ["self", "host", "port", "timeout"]
    assert "self._get_socket(host, port, self.timeout)" in inspect.getsource(smtplib.SMTP.connect)
    assert "_get_socket" in vars(smtplib.SMTP_SSL)  # TLS wraps the socket there
    assert AbortableSMTPSSL.__mro__.index(AbortableSMTP) < AbortableSMTPSSL.__mro__.index(smtplib.SMTP_SSL)


def test_the_certificate_is_checked_against_host() -> None:
    assert smtplib.SMTP()._host == ""  # made without a host, as the mail session makes it
    assert "server_hostname=self._host" in inspect.getsource(smtplib.SMTP.starttls)
    assert "server_hostname=self._host" in inspect.getsource(smtplib.SMTP_SSL._get_socket)


def test_data_sends_the_whole_content_ending_in_crlf_dot_crlf_with_one_send() -> None:
    source = inspect.getsource(smtplib.SMTP.data)
    assert 'self.putcmd("data")' in source and "self.send(q)" in source
    assert 'q = q + b"." + bCRLF' in source
    assert source.index("self.send(q)") < source.rindex("self.getreply()")
