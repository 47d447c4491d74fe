"""A crash of the app, and every way settings and secret holders are formatted, show no secret.

Textual's own crash report prints every frame's local variables: a decrypted booking secret,
the settings with the master key. The app's report is the traceback without them.
"""

from __future__ import annotations

import dataclasses
import pprint
import re
from pathlib import Path

import pytest

from rxdesk.config import Settings
from rxdesk.services import Desk
from rxdesk.services.crypto import SecretBox
from rxdesk.services.notify import SmtpTarget
from tests.receiver import Receiver
from tests.tui.conftest import make_app

MASTER_KEY = "cnhkZXNrLXRlc3QtbWFzdGVyLWtleS0zMi1ieXRlcyE="  # 32 bytes, urlsafe base64: a Fernet key
SMTP_PASSWORD = "smtp-pass-77"
SMS_TOKEN = "sms-token-88"
DB_PASSWORD = "db-pass-99"


def secret_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, agent="tester", master_key=MASTER_KEY,
                    smtp_url=f"smtp://desk:{SMTP_PASSWORD}@mail.example:587", sms_url="https://sms.example/send",
                    sms_token=SMS_TOKEN, database_url=f"postgresql://rxdesk:{DB_PASSWORD}@db.example/rxdesk")


def secrets_in(text: str) -> list[str]:
    return [s for s in (MASTER_KEY, SMTP_PASSWORD, SMS_TOKEN, DB_PASSWORD) if s in text]


def test_settings_never_show_their_secrets_however_they_are_formatted(tmp_path: Path) -> None:
    settings = secret_settings(tmp_path)
    shown = [repr(settings), str(settings), f"{settings}", f"{settings!r}", "%s" % (settings,), pprint.pformat(settings),
             repr(dataclasses.replace(settings, agent="other")), repr(settings.with_overrides(now=None))]
    for text in shown:
        assert secrets_in(text) == [], text
    assert "tester" in shown[0]  # the rest is still there to read
    # The values themselves are where the code needs them.
    assert settings.master_key == MASTER_KEY and settings.to_env()["RXDESK_SMS_TOKEN"] == SMS_TOKEN


def test_holders_of_secrets_never_show_them(tmp_path: Path, clinic: Desk, receiver: Receiver) -> None:
    box = SecretBox([MASTER_KEY.encode()], source="RXDESK_MASTER_KEY")
    smtp = SmtpTarget.parse(secret_settings(tmp_path).smtp_url or "")
    made = clinic.secrets.create_secret("shop", "tester")
    revealed = clinic.secrets.reveal(made.secret.key_id, "tester")
    sub = clinic.webhooks.add_subscription(receiver.url, ["APPOINTMENT_CANCELLED"], {}, "tester",
                                           allow_private_network=True)
    for holder, secret in ((box, MASTER_KEY), (smtp, SMTP_PASSWORD), (made, made.value), (revealed, made.value),
                           (sub, sub.secret), (made.secret, made.secret.value_encrypted),
                           (sub.subscription, sub.subscription.secret_encrypted)):
        for text in (repr(holder), str(holder), f"{holder}", pprint.pformat(holder)):
            assert secret not in text, type(holder).__name__
    # A pydantic dump of a listing's entity carries no value, not even encrypted.
    assert made.value not in str(made.secret.public()) and made.secret.value_encrypted not in str(made.secret.public())
    assert sub.subscription.secret_encrypted not in str(sub.subscription.public())


async def test_a_crash_closes_the_app_with_one_line_and_logs_the_traceback_without_locals(
        clinic: Desk, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    made = clinic.secrets.create_secret("shop", "tester")
    app = make_app(clinic)

    def use_the_secret() -> None:
        value = clinic.secrets.reveal(made.secret.key_id, "tester").value  # a local holding a secret
        settings = secret_settings(tmp_path)
        raise RuntimeError(f"broke after reading {len(value)} characters for {settings.agent}")

    with pytest.raises(RuntimeError):
        async with app.run_test() as pilot:
            app.call_later(use_the_secret)
            await pilot.pause()
    log = clinic.settings.data_dir / "logs" / "errors.log"
    assert "Traceback" not in capsys.readouterr().err  # none on the agent's terminal: one line, after it closed
    assert app.crashed == (f"rxdesk closed after an internal error (RuntimeError); what was saved is kept. "
                     f"Details for support: {log}")
    report = log.read_text()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ unexpected error", report.splitlines()[0])  # when, for support
    assert "RuntimeError: broke after reading" in report and "use_the_secret" in report  # the report is there
    assert made.value not in report and secrets_in(report) == []
