"""The PostgreSQL store itself: its schema and migrations, the constraints that keep the rules
whatever process writes, row claims, what an operator sees when something is wrong, and the
changes channel."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from pydantic import BaseModel

from rxdesk.domain.errors import Conflict, StoreError, StoreUnavailable, UnreadableRecord
from rxdesk.domain.models import AppointmentStatus as S
from rxdesk.domain.models import Delivery, EventType, RecipientGroup, ReminderSent
from rxdesk.services import Desk
from rxdesk.store.postgres import PgStore, schema
from rxdesk.store.postgres.connect import parse_url, redact
from rxdesk.store.postgres.store import PgView
from tests.helpers import (
    CLINIC_TOML,
    Cli,
    another_store,
    database_url_of,
    fingerprint,
    make_appointment,
    run_cli,
    view_of,
)
from tests.pgcluster import PASSWORD, PASSWORD_ROLE
from tests.pgfixtures import PgServer, with_database
from tests.receiver import Receiver

pytestmark = pytest.mark.database_only


def one_line(text: str) -> bool:
    return text.count("\n") == 1 and "Traceback" not in text


# -- schema and migrations --------------------------------------------------------------


@pytest.fixture
def empty_db(pg_server: PgServer) -> Iterator[str]:
    """A database without the schema (as `createdb` leaves it)."""
    name = pg_server.create(migrated=False)
    yield pg_server.url(name)
    pg_server.drop(name)


def test_init_creates_the_schema_once_and_every_command_refuses_a_database_without_it(empty_db: str, cli_env: dict[str, str]) -> None:
    env = {**cli_env, "RXDESK_DATABASE_URL": empty_db}
    refused = run_cli("appointments", "list", env=env)
    assert refused.code == 1 and one_line(refused.err)
    assert "no rxdesk schema" in refused.err and "rxdesk store init" in refused.err
    made = run_cli("store", "init", env=env)
    assert made.code == 0 and f"created the rxdesk schema (version {schema.latest()})" in made.out
    again = run_cli("store", "init", "--json", env=env)
    assert again.code == 0 and again.json()["applied"] == [] and again.json()["found_version"] == schema.latest()
    listed = run_cli("appointments", "list", env=env)  # the schema is there; the clinic is not yet
    assert listed.code == 1 and "holds no rxdesk data" in listed.err
    assert run_cli("provision", str(CLINIC_TOML), env=env).code == 0
    assert run_cli("appointments", "list", env=env).code == 0
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT version, name FROM rxdesk_schema ORDER BY version").fetchall() == [
            (m.version, m.name) for m in schema.MIGRATIONS]


def test_an_older_schema_is_refused_with_the_command_that_upgrades_it(empty_db: str, cli_env: dict[str, str]) -> None:
    """A database at this rxdesk's version while a newer one knows one more: refused until
    `store init` ran."""
    known = schema.latest()
    extra = schema.Migration(known + 1, "a later change", "CREATE TABLE later_change (id integer)")
    conn = psycopg.connect(empty_db, autocommit=True)
    schema.migrate(conn)
    newer = (*schema.MIGRATIONS, extra)
    with pytest.raises(StoreError, match=rf"schema version {known}, this rxdesk needs {known + 1}: run `rxdesk store init`"):
        schema.require_current(conn, "db", newer)
    found, applied = schema.migrate(conn, newer)
    assert found == known and [m.version for m in applied] == [known + 1]
    schema.require_current(conn, "db", newer)
    # ... and the same database is newer than an rxdesk that knows only version 1
    with pytest.raises(StoreError, match="newer than this rxdesk knows"):
        schema.require_current(conn, "db")
    with pytest.raises(StoreError, match="newer than this rxdesk knows"):
        schema.migrate(conn)  # never "downgraded"
    conn.close()
    refused = run_cli("doctors", "list", env={**cli_env, "RXDESK_DATABASE_URL": empty_db})
    assert refused.code == 1 and one_line(refused.err) and "upgrade rxdesk" in refused.err


def test_a_failing_migration_leaves_the_database_as_it_was(empty_db: str) -> None:
    broken = (*schema.MIGRATIONS, schema.Migration(schema.latest() + 1, "broken",
                                                   "CREATE TABLE ok_table (id int); SELECT 1/0"))
    conn = psycopg.connect(empty_db, autocommit=True)
    with pytest.raises(psycopg.errors.DivisionByZero):
        schema.migrate(conn, broken)
    assert schema.current_version(conn) is None  # not even version 1: one transaction
    assert conn.execute("SELECT to_regclass('ok_table')").fetchone() == (None,)
    conn.close()


# -- what the database itself refuses ---------------------------------------------------


def test_a_double_booking_is_refused_by_the_database_itself(clinic: Desk, now: datetime) -> None:
    first = make_appointment(clinic, start=now + timedelta(days=1))
    before = fingerprint(clinic.settings.data_dir)
    with pytest.raises(Conflict, match="taken"):  # make_appointment skips every rule in Python
        make_appointment(clinic, start=now + timedelta(days=1, minutes=15), patient_id="pat-002")
    assert fingerprint(clinic.settings.data_dir) == before
    # Back to back is fine, another doctor at the same time too, and a cancelled one blocks nothing.
    make_appointment(clinic, start=first.ends_at, patient_id="pat-002")
    make_appointment(clinic, start=first.starts_at, doctor_id="dr-osei")
    clinic.appointments.cancel_appointment(first.uid, "freed", "tester")
    make_appointment(clinic, start=first.starts_at, patient_id="pat-003")


def test_the_database_counts_a_hold_as_stored_until_it_is_written_down_as_expired(clinic: Desk, now: datetime) -> None:
    """Lapsed but still stored as held, a hold keeps its slot in the constraint: the writes that
    take a slot expire such holds first (the booking services do, with the event), and one that
    does not is refused by the database instead of booking the doctor twice."""
    from rxdesk.services.lifecycle import expire_lapsed_holds

    start = now + timedelta(days=1)
    lapsed = make_appointment(clinic, start=start, status=S.held, created_at=now - timedelta(hours=1), hold_minutes=15)
    with pytest.raises(Conflict):
        make_appointment(clinic, start=start, patient_id="pat-002", created_at=now)
    with clinic.store.write() as view:
        expired = expire_lapsed_holds(view, "dr-weber", lapsed.starts_at, lapsed.ends_at, now, "tester")
    assert [a.uid for a in expired] == [lapsed.uid]
    taker = make_appointment(clinic, start=start, patient_id="pat-002", created_at=now)
    read = view_of(clinic)
    assert read.appointments.require(lapsed.uid).status is S.expired
    assert read.appointments.require(taker.uid).status is S.confirmed


def test_a_reminder_can_be_recorded_once_whatever_process_tries(clinic: Desk, now: datetime) -> None:
    appt = make_appointment(clinic, start=now + timedelta(hours=1))
    row = ReminderSent(appointment_uid=appt.uid, rule_id="r1", recipient_group=RecipientGroup.patient,
                       recipient_id=appt.patient_id, sent_at=now, due_at=now)
    with clinic.store.write() as view:
        view.reminders_sent.add(row)
    other = another_store(clinic)

    def fire_again() -> None:
        with other.write() as view:
            view.events.append(EventType.APPOINTMENT_REMINDER_DUE, {"appointment": appt.to_json()}, now)
            view.reminders_sent.add(row)

    with pytest.raises(Conflict, match="another process"):
        fire_again()
    assert not [e for _, e in view_of(other).events.after(0)]  # the event went with the refused row


def test_two_runners_claiming_at_once_take_different_deliveries(clinic: Desk, now: datetime) -> None:
    with clinic.store.write() as view:
        for _ in range(10):
            view.deliveries.put(Delivery(id=view.deliveries.new_id(), event_id="evt_x",
                                         event_type=EventType.APPOINTMENT_CANCELLED, subscription_id="sub",
                                         url="http://127.0.0.1/", created_at=now, next_attempt_at=now))
    first_claimed = threading.Event()
    release = threading.Event()
    claims: dict[str, list[Delivery]] = {}

    def runner(name: str, limit: int, hold: bool) -> None:
        with another_store(clinic).write() as view:
            claims[name] = view.deliveries.due(now, limit)
            if hold:
                first_claimed.set()
                release.wait(30)

    a = threading.Thread(target=runner, args=("a", 4, True))
    a.start()
    assert first_claimed.wait(30)
    runner("b", 100, False)  # does not wait for a's locked rows: skips them
    release.set()
    a.join(30)
    assert len(claims["a"]) == 4 and len(claims["b"]) == 6 and not set(claims["a"]) & set(claims["b"])


# -- an operator's view of failures ------------------------------------------------------


@pytest.mark.parametrize(("make_url", "said"), [
    (lambda s: s.url_tcp(port=1), "connection refused: is PostgreSQL running there?"),
    (lambda s: s.url_tcp(password="wrong-password"), "the password was refused"),
    (lambda s: s.url_tcp(dbname="no_such_db"), "that database does not exist"),
    (lambda s: s.url_tcp(user="nobody_here", password="x"), "that user does not exist"),
])
def test_a_server_problem_is_one_line_without_the_password(pg_server: PgServer, cli_env: dict[str, str], make_url: Callable[[Urls], str], said: str) -> None:
    url = make_url(Urls(pg_server))
    result = run_cli("appointments", "list", env={**cli_env, "RXDESK_DATABASE_URL": url})
    assert result.code == 1 and one_line(result.err), result.err
    assert said in result.err
    assert "wrong-password" not in result.err and PASSWORD not in result.err
    assert "rxdesk: cannot open the database" in result.err


def test_a_url_that_is_no_url_is_one_line(cli_env: dict[str, str]) -> None:
    for bad in ("mysql://u:secret@host/db", "postgresql://u:secret@host:notaport/db"):
        result = run_cli("appointments", "list", env={**cli_env, "RXDESK_DATABASE_URL": bad})
        assert result.code == 1 and one_line(result.err) and "secret" not in result.err


def test_redact_hides_the_password_in_both_spellings() -> None:
    assert redact("postgresql://desk:s3cr%40t@db.example:5432/rxdesk") == "postgresql://desk:***@db.example:5432/rxdesk"
    assert "s3cret" not in redact("host=db user=desk password=s3cret dbname=rxdesk")
    where = parse_url("postgresql://desk:s3cret@db.example/rxdesk").where
    assert where == "database 'rxdesk' on db.example:5432 as desk"


def test_a_connection_lost_mid_write_leaves_nothing_half_written(clinic: Desk, now: datetime, pg_server: PgServer) -> None:
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    before = fingerprint(clinic.settings.data_dir)

    def cancel_while_the_connection_drops() -> None:
        with clinic.store.write() as view:
            view.appointments.put(appt.model_copy(update={"status": S.cancelled, "cancelled_at": now,
                                                          "cancel_reason": "x", "cancelled_by": "admin:t"}))
            view.events.append(EventType.APPOINTMENT_CANCELLED, {"appointment": appt.to_json()}, now)
            assert isinstance(view, PgView)
            pid = view.session.value("SELECT pg_backend_pid()")
            with pg_server.admin() as admin:  # the server (or the network) drops this connection
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            view.audit.for_target("appointment:" + appt.uid)

    with pytest.raises(StoreUnavailable, match="nothing was changed"):
        cancel_while_the_connection_drops()
    assert fingerprint(clinic.settings.data_dir) == before
    # The store carries on with a new connection.
    clinic.appointments.cancel_appointment(appt.uid, "after the drop", "tester")


def test_secrets_are_stored_encrypted_and_the_key_stays_out_of_the_database(clinic: Desk, pg_server: PgServer) -> None:
    made = clinic.secrets.create_secret("partner", "ops")
    sub = clinic.webhooks.add_subscription("https://shop.example/hooks", ["APPOINTMENT_CANCELLED"], {}, "ops")
    key = (clinic.settings.data_dir / "master.key").read_text().strip()
    with psycopg.connect(database_url_of(clinic)) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        dump = "".join(str(conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(t))).fetchall())
                       for t in tables)
    assert made.value not in dump and sub.secret not in dump and key not in dump
    assert sorted(p.name for p in clinic.settings.data_dir.iterdir()) == ["master.key"]


def test_a_committed_write_of_another_process_wakes_a_waiting_store(clinic: Desk, now: datetime) -> None:
    watcher = another_store(clinic)
    known = watcher.generation()
    assert watcher.wait_for_change(known, 0.05) == known  # nothing happened: the wait times out
    woke: list[int] = []
    waiting = threading.Thread(target=lambda: woke.append(watcher.wait_for_change(known, 30)))
    waiting.start()
    with pytest.raises(RuntimeError), clinic.store.write():
        raise RuntimeError("rolled back: announces nothing")
    make_appointment(clinic, start=now + timedelta(days=1))
    waiting.join(30)
    assert woke and woke[0] != known


class Urls:
    """URLs to the test server over TCP, as another host would reach it."""

    def __init__(self, server: PgServer) -> None:
        self.server = server
        self.base = psycopg.conninfo.conninfo_to_dict(server.admin_url)

    def url_tcp(self, *, port: int | None = None, password: str = PASSWORD, dbname: str | None = None,
                user: str = PASSWORD_ROLE) -> str:
        with psycopg.connect(self.server.admin_url) as conn:
            real_port = conn.info.port
        name = dbname or self.server.template
        return f"postgresql://{user}:{password}@127.0.0.1:{port or real_port}/{name}"


def test_store_import_refuses_a_dir_without_data_and_a_database_with_data(clinic: Desk, cli_env: dict[str, str], tmp_path: Path) -> None:
    env = {**cli_env}
    empty = run_cli("store", "import", str(tmp_path), env=env)
    assert empty.code == 1 and one_line(empty.err) and "holds no rxdesk data" in empty.err
    source = tmp_path / "source"
    made = run_cli("--data-dir", str(source), "demo", "--appointments", "300", env={"RXDESK_DATABASE_URL": ""})
    assert made.code == 0, made.err
    full = run_cli("store", "import", str(source), env=env)  # the clinic is already in this database
    assert full.code == 1 and one_line(full.err) and "already holds rxdesk data" in full.err


def test_store_commands_need_a_database(cli: Cli, tmp_path: Path) -> None:
    for args in (["store", "init"], ["store", "check", str(tmp_path)]):
        result = cli(*args, env={"RXDESK_DATABASE_URL": ""})
        assert result.code == 1 and "needs a PostgreSQL database" in result.err


def test_with_database_keeps_the_rest_of_the_url(pg_server: PgServer) -> None:
    url = with_database(pg_server.admin_url, "elsewhere")
    assert psycopg.conninfo.conninfo_to_dict(url)["dbname"] == "elsewhere"


def test_a_store_opened_on_another_database_sees_none_of_this_one(clinic: Desk, pg_server: PgServer, tmp_path: Path) -> None:
    name = pg_server.create()
    try:
        other = PgStore(pg_server.url(name), tmp_path)
        assert other.is_empty() and not clinic.is_empty()
        other.close()
    finally:
        pg_server.drop(name)


def test_a_password_in_the_url_reaches_no_output_log_audit_or_table(clinic: Desk, now: datetime, cli_env: dict[str, str], pg_server: PgServer) -> None:
    """The URL carries the password (the case SECURITY.md advises against): it still appears in
    nothing rxdesk writes: a worker's log, a change, refusals, the logs folder, the audit."""
    with psycopg.connect(database_url_of(clinic), autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}; "
                             "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}").format(
                                 role=sql.Identifier(PASSWORD_ROLE)))
        dbname = conn.info.dbname
    url = Urls(pg_server).url_tcp(dbname=dbname)
    assert PASSWORD in url
    env = {**cli_env, "RXDESK_DATABASE_URL": url}
    appt = make_appointment(clinic, start=now + timedelta(days=1))
    said = [run_cli(*args, env=env) for args in (
        ("worker", "--once"),
        ("appointments", "cancel", appt.uid, "--reason", "moved away"),
        ("appointments", "cancel", appt.uid, "--reason", "again"),  # refused: already cancelled
        ("appointments", "show", "no-such-uid"),
    )]
    assert [r.code for r in said] == [0, 0, 1, 1]
    assert "started" not in said[0].out or dbname in said[0].out
    text = "".join(r.out + r.err for r in said)
    logs = clinic.settings.data_dir / "logs"
    text += "".join(p.read_text() for p in logs.rglob("*") if p.is_file()) if logs.exists() else ""
    with psycopg.connect(database_url_of(clinic)) as conn:
        text += str(conn.execute("SELECT * FROM audit").fetchall()) + str(conn.execute("SELECT * FROM events").fetchall())
    assert PASSWORD not in text
    assert [a.actor for a in view_of(clinic).audit.for_target(f"appointment:{appt.uid}")] == ["admin:tester"]


def test_demo_and_provision_may_start_from_an_empty_database(cli: Cli) -> None:
    assert cli("patients", "list").code == 1  # refused: nothing there yet
    assert cli("demo", "--appointments", "50").code == 0
    assert cli("patients", "list").code == 0
    refused = cli("demo", "--appointments", "50")
    assert refused.code == 1 and "already holds data" in refused.err and "--replace" in refused.err
    assert cli("demo", "--appointments", "60", "--replace").code == 0
    assert cli("provision", str(CLINIC_TOML)).code == 0


def drop_connection_on(monkeypatch: pytest.MonkeyPatch, pg_server: PgServer, cls: type, method: str, at_call: int) -> None:
    """The server (or the network) drops the connection of whoever calls `cls.method` for the
    `at_call`-th time, right after that call did its work."""
    real = getattr(cls, method)
    calls = [0]

    def dropping(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = real(self, *args, **kwargs)
        calls[0] += 1
        if calls[0] == at_call:
            pid = self._s.value("SELECT pg_backend_pid()")
            with pg_server.admin() as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return result

    monkeypatch.setattr(cls, method, dropping)


def test_a_connection_lost_mid_tick_leaves_the_ticks_work_undone_then_done_once(
        clinic: Desk, now: datetime, pg_server: PgServer, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    from rxdesk.services.maintenance import MaintenanceService as Maintenance
    from rxdesk.store.postgres import appointments, logs
    from tests.unit.test_worker import only_rule, subscribe

    only_rule(clinic, "gp-consult", "patient", 60)
    subscribe(clinic, receiver, "APPOINTMENT_REMINDER_DUE")
    uids = [make_appointment(clinic, start=now + timedelta(minutes=10 + i), minutes=1).uid for i in range(6)]
    lapsed = make_appointment(clinic, start=now + timedelta(days=1), status=S.held, created_at=now - timedelta(hours=1))
    before = fingerprint(clinic.settings.data_dir)

    # Phase one (expire, fire, fan out, claim) loses its connection after the third reminder.
    with monkeypatch.context() as patch:
        drop_connection_on(patch, pg_server, appointments.ReminderSentRepo, "add", 3)
        with pytest.raises(StoreUnavailable, match="nothing was changed"):
            Maintenance(clinic).tick()
    assert fingerprint(clinic.settings.data_dir) == before  # not one reminder, expiry or event
    assert receiver.received == []

    # Phase three (recording what was sent) loses its connection: the sends happened, their
    # results were not written; the claims stay leased and go out again, same ids, once the
    # lease has run out.
    with monkeypatch.context() as patch:
        # phase one puts each delivery twice (made, then claimed): the 14th put is in phase three
        drop_connection_on(patch, pg_server, logs.DeliveryRepo, "put", 6 + 6 + 2)
        with pytest.raises(StoreUnavailable):
            Maintenance(clinic).tick()
    view = view_of(clinic)
    fired = [e for _, e in view.events.after(0) if e.type is EventType.APPOINTMENT_REMINDER_DUE]
    assert sorted(e.data["appointment"]["uid"] for e in fired) == sorted(uids)  # phase one committed whole
    assert view.appointments.require(lapsed.uid).status is S.expired
    assert all(d.lease_id and d.status.value == "pending" for d in view.deliveries.newest())
    assert len(receiver.received) == 6
    report = Maintenance(clinic).tick(now + timedelta(minutes=6))  # past the lease
    assert report.reminders == 0 and report.delivered == 6
    assert {r.headers["webhook-id"] for r in receiver.received} == {e.id for e in fired}


def test_statuses_at_an_instant_are_the_domains_rule(clinic: Desk, now: datetime) -> None:
    """Every status filter, at instants before, inside and after holds and appointments,
    matches exactly what `lifecycle.status_at` says of each appointment."""
    import itertools
    import random

    from rxdesk.domain.lifecycle import status_at
    from rxdesk.domain.queries import AppointmentQuery

    rng = random.Random(11)
    made = []
    for i, status in enumerate([*S] * 3):
        start = now + timedelta(hours=rng.randint(-30, 30), minutes=40 * i)
        made.append(make_appointment(clinic, start=start, status=status, doctor_id=f"dr-{'weber osei sato'.split()[i % 3]}",
                                     created_at=start - timedelta(minutes=rng.randint(5, 60)), hold_minutes=30, minutes=20))
    instants = [now + timedelta(hours=h) for h in (-40, -1, 0, 1, 40)]
    view = view_of(clinic)
    for size in (1, 2):
        for wanted in itertools.combinations(sorted(s.value for s in S), size):
            for at in instants:
                found = {a.uid for a in view.appointments.search(AppointmentQuery(statuses=frozenset(wanted), as_of=at)).items}
                expected = {a.uid for a in made
                            if status_at(a.status.value, a.hold_expires_at, a.ends_at, at).value in wanted}
                assert found == expected, (wanted, at)
                counted = view.appointments.count(AppointmentQuery(statuses=frozenset(wanted), as_of=at))
                assert counted == len(expected)


def test_an_imported_data_dir_is_refused_without_the_database_then_checked_equal(cli_env: dict[str, str], tmp_path: Path, pg_server: PgServer) -> None:
    source = tmp_path / "source"
    assert run_cli("--data-dir", str(source), "demo", "--appointments", "400", env={"RXDESK_DATABASE_URL": ""}).code == 0
    made = run_cli("--data-dir", str(source), "secrets", "create", "--label", "shop", "--json",
                   env={"RXDESK_DATABASE_URL": ""})
    assert made.code == 0
    name = pg_server.create()
    try:
        env = {**cli_env, "RXDESK_DATABASE_URL": pg_server.url(name)}
        imported = run_cli("store", "import", str(source), "--json", env=env)
        assert imported.code == 0, imported.err
        answer = imported.json()
        assert answer["counts"]["appointments"] == 400 and answer["counts"]["booking secrets"] == 1
        assert any("master key" in n for n in answer["notes"]) and any("marked as moved" in n for n in answer["notes"])
        stale = run_cli("--data-dir", str(source), "appointments", "list", env={"RXDESK_DATABASE_URL": ""})
        assert stale.code == 1 and one_line(stale.err) and "moved to PostgreSQL" in stale.err
        checked = run_cli("store", "check", str(source), "--json", env=env)
        assert checked.code == 0 and checked.json()["same"], checked.out
        # The secret opens in the database with the key the import put beside it (an audited reveal).
        assert run_cli("secrets", "reveal", made.json()["key_id"], env=env).out.strip() == made.json()["secret"]
        # One change on one side: the check says they differ.
        uid = run_cli("appointments", "list", "--json", env=env).json()[0]["uid"]
        assert run_cli("appointments", "cancel", uid, "--reason", "after the move", env=env).code == 0
        differs = run_cli("store", "check", str(source), env=env)
        assert differs.code == 1 and "DIFFERENT" in differs.out and "differ" in differs.err
    finally:
        pg_server.drop(name)


def test_every_field_of_the_models_has_its_column(clinic: Desk) -> None:
    """Rows are written and read by the models' field names: a field the schema lacks would
    fail the first write (a renamed field needs a migration)."""
    from rxdesk.domain.models import Appointment, Delivery, OutboxMessage, Patient, ReminderSent

    tables: dict[str, type[BaseModel]] = {"patients": Patient, "appointments": Appointment, "appointment_reminders_sent": ReminderSent,
              "deliveries": Delivery, "messages": OutboxMessage}
    with psycopg.connect(database_url_of(clinic)) as conn:
        for table, model in tables.items():
            columns = {r[0] for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))}
            fields = set(model.model_fields)
            assert fields <= columns, (table, fields - columns)


def test_two_writers_changing_one_doctor_never_lose_an_update(clinic: Desk) -> None:
    """Both read the doctor, then both write it back changed: one is refused (and changed
    nothing), the other's change is kept whole. Never both applied over each other's read."""
    ready = threading.Barrier(2, timeout=30)
    outcome: dict[str, object] = {}

    def edit(field: str, value: str) -> None:
        store = another_store(clinic)
        try:
            with store.write() as view:
                doctor = view.doctors.require("dr-weber")
                ready.wait()  # both have read it
                view.doctors.put(doctor.model_copy(update={field: value}))
            outcome[field] = "done"
        except Conflict as exc:
            outcome[field] = exc

    threads = [threading.Thread(target=edit, args=a) for a in (("prescription_phone", "+49 30 555"),
                                                                 ("email", "weber@clinic.example"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(type(v).__name__ for v in outcome.values()) == ["Conflict", "str"], outcome
    doctor = view_of(clinic).doctors.require("dr-weber")
    won = next(k for k, v in outcome.items() if v == "done")
    lost = next(k for k, v in outcome.items() if v != "done")
    assert getattr(doctor, won) in ("+49 30 555", "weber@clinic.example")
    assert getattr(doctor, lost) not in ("+49 30 555", "weber@clinic.example")
    assert "try again" in str(outcome[lost])


def test_an_imported_database_is_analysed_and_its_visibility_known(cli_env: dict[str, str], tmp_path: Path, pg_server: PgServer) -> None:
    """Right after `store import` the planner knows the tables' sizes and the count of upcoming
    appointments can come from the index alone: no waiting for autovacuum."""
    source = tmp_path / "source"
    assert run_cli("--data-dir", str(source), "demo", "--appointments", "400", env={"RXDESK_DATABASE_URL": ""}).code == 0
    name = pg_server.create()
    try:
        env = {**cli_env, "RXDESK_DATABASE_URL": pg_server.url(name)}
        imported = run_cli("store", "import", str(source), env=env)
        assert imported.code == 0, imported.err
        with psycopg.connect(pg_server.url(name)) as conn:
            row = conn.execute(
                "SELECT reltuples, relallvisible FROM pg_class WHERE relname = 'appointments'").fetchone()
        assert row is not None
        tuples, visible = row
        assert tuples >= 400 and visible > 0
    finally:
        pg_server.drop(name)


def test_an_upgrade_names_each_migration_it_ran_as_a_migration(empty_db: str, cli_env: dict[str, str]) -> None:
    """`store init` on an older database says which migrations ran, in words that cannot be
    read as a count ("4 active appointments" read like four appointments)."""
    with psycopg.connect(empty_db, autocommit=True) as conn:
        schema.migrate(conn, schema.MIGRATIONS[:-1])
    upgraded = run_cli("store", "init", env={**cli_env, "RXDESK_DATABASE_URL": empty_db})
    last = schema.MIGRATIONS[-1]
    assert upgraded.code == 0 and one_line(upgraded.out), upgraded.err
    assert upgraded.out.strip().endswith(f"to {last.version}: migration {last.version} ({last.name})"), upgraded.out


@pytest.mark.parametrize("doc", ['{"name": "Clinic", "colour": "red"}', '{"name": 7}', '{"timezone": "UTC"}'])
def test_a_stored_organisation_of_another_shape_is_refused_as_on_the_data_dir(
        clinic: Desk, database_url: str, doc: str) -> None:
    """The organisation is taken as stored only in the shape validation leaves; any other is
    validated, and refused in one line naming it, by `org` and by the name and zone alone."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE org SET doc = %s::jsonb", (doc,))
    desk = Desk(another_store(clinic), clinic.clock, clinic.settings)
    try:
        with pytest.raises(UnreadableRecord, match="stored org cannot be read"):
            desk.org()
        with pytest.raises(UnreadableRecord, match="stored org cannot be read"):
            desk.org_basics()
    finally:
        desk.close()


def test_a_stores_own_write_wakes_its_writer_and_not_its_waiters(
        clinic: Desk, now: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    """An app reloads for a write of its own once, as its own (`note_own_write`): the write
    does not wake the app's wait for changes too, which reloaded every screen a second time
    while the row just cancelled waited to be painted. The generation counts the write when
    it returns; a write of another process wakes the waiter, with both counted."""
    from rxdesk.store.postgres.store import Listener

    store = clinic.store
    known = store.generation()  # listening from now on
    waiting_now = threading.Event()
    wait = Listener.wait

    def entered(listener: Listener, known: int, timeout: float) -> int:
        waiting_now.set()
        return wait(listener, known, timeout)

    monkeypatch.setattr(Listener, "wait", entered)
    woke: list[int] = []
    waiter = threading.Thread(target=lambda: woke.append(store.wait_for_change(known, 30)))
    waiter.start()
    assert waiting_now.wait(30)
    make_appointment(clinic, start=now + timedelta(days=1))  # this store's own write
    assert store.generation() == known + 1
    other = Desk(another_store(clinic), clinic.clock, clinic.settings)
    try:
        make_appointment(other, start=now + timedelta(days=2))
    finally:
        other.close()
    waiter.join(30)
    assert woke == [known + 2]
