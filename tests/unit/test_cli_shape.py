"""The shape of the command line: README's command list is what `--help` offers, a command
loads only what it needs, and a number out of an option's bounds is a usage error."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rxdesk.services import Desk
from tests.helpers import REPO, Cli, fingerprint, leaf_commands, options_of

# Options every command has, or that README states once for all listings.
GENERAL_OPTIONS = {"--help", "-h", "--json", "--limit", "--data-dir", "--database-url", "--agent"}


def _alternatives(text: str) -> list[str]:
    """`a X | b [--y] | c (--u U | --v)` -> the three alternatives (a `|` inside brackets
    belongs to its alternative)."""
    parts, depth, current = [], 0, ""
    for token in re.split(r"(\s\|\s|[()\[\]])", text):
        if token in ("(", "["):
            depth += 1
        elif token in (")", "]"):
            depth -= 1
        if token == " | " and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += token
    return [*parts, current.strip()]


def readme_commands(groups: set[str]) -> dict[tuple[str, ...], set[str]]:
    """README's command list: each command's path and the options it names (`groups`: the
    names that take a subcommand)."""
    text = (REPO / "README.md").read_text()
    block = text.split("## Command line", 1)[1].split("```", 2)[1]
    commands: dict[tuple[str, ...], set[str]] = {}
    for line in block.splitlines():
        if not line.startswith("rxdesk ") or line.startswith("rxdesk ["):
            continue
        usage = re.split(r"\s{3,}", line[len("rxdesk "):])[0]  # drop the comment after the usage
        head, _, rest = usage.partition(" ")
        for alternative in _alternatives(rest) if head in groups else [rest]:
            words = alternative.split()
            path = (head, words[0]) if head in groups else (head,)
            flags = re.split(r"[\s|]+", alternative)
            options = {re.sub(r"[^a-z-].*$", "", w.lstrip("[(")) for w in flags if w.lstrip("[(").startswith("--")}
            commands.setdefault(path, set()).update(options)
    return commands


def parser_commands() -> dict[tuple[str, ...], set[str]]:
    return {path: options_of(parser) for path, parser in leaf_commands()}


def test_readme_lists_every_command_help_offers_and_no_other() -> None:
    offered = parser_commands()
    readme = readme_commands({path[0] for path in offered if len(path) == 2})
    assert set(readme) == set(offered)
    for path, options in readme.items():
        assert options <= offered[path], (path, options - offered[path])
        assert offered[path] - GENERAL_OPTIONS <= options, (path, offered[path] - GENERAL_OPTIONS - options)


def test_top_level_help_names_every_command_group() -> None:
    result = subprocess.run([sys.executable, "-m", "rxdesk", "--help"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0
    listed = set(re.findall(r"^    (\w[\w-]*)", result.stdout, re.M))
    assert listed == {path[0] for path in parser_commands()}


def loaded_after(argv: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run `rxdesk ARGV` in a fresh interpreter; its exit code and the modules it loaded."""
    code = ("import json, sys\nfrom rxdesk.cli import main\ncode = main(sys.argv[1:])\n"
            "print(json.dumps({'code': code, 'modules': sorted(sys.modules)}), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=REPO,
                            env={**env, "PYTHONPATH": str(REPO)})
    answer: dict[str, Any] = json.loads(result.stderr.strip().splitlines()[-1])
    return answer


def heavy(modules: object, *prefixes: str) -> list[str]:
    assert isinstance(modules, list)
    return [m for m in modules if m.split(".")[0] in prefixes or m.startswith(prefixes)]


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["appointments", "--help"],
    ["appointments", "cancel", "--help"],
    ["doctors", "slots", "--help"],
    ["appointments", "cancel", "2611x"],  # --reason missing: a usage error
    ["appointments", "list", "--limit", "0"],
    ["frobnicate"],
])
def test_help_and_the_parser_load_neither_pydantic_nor_a_service(argv: list[str], cli_env: dict[str, str]) -> None:
    answer = loaded_after(argv, cli_env)
    assert answer["code"] in (0, 2)
    assert heavy(answer["modules"], "pydantic", "rxdesk.services", "rxdesk.store", "tinydb", "textual") == []


def test_a_command_loads_its_own_service_and_not_the_others(clinic: Desk, cli_env: dict[str, str]) -> None:
    answer = loaded_after(["types", "list", "--json"], cli_env)
    assert answer["code"] == 0
    assert "rxdesk.services.types" in answer["modules"]
    others = ("rxdesk.services.webhooks", "rxdesk.services.rebooking", "rxdesk.services.booking",
              "rxdesk.services.secrets", "rxdesk.services.tokens", "rxdesk.services.maintenance",
              "rxdesk.commands.appointments", "rxdesk.commands.doctors")
    # A command that only reads takes no lock: it never loads filelock either.
    assert heavy(answer["modules"], *others, "httpx", "jwt", "cryptography", "phonenumbers", "textual",
                 "filelock") == []


# command, option, a value out of bounds (or not a number), a value in them
BOUNDED = [
    (("appointments", "list"), "--limit", ["0", "-1", "100001", "x", "1.5"], "3"),
    (("patients", "list"), "--limit", ["0", "-3"], "2"),
    (("events", "list"), "--limit", ["0"], "5"),
    (("deliveries", "list"), "--limit", ["100001"], "5"),
    (("outbox", "list"), "--limit", ["-1"], "5"),
    (("doctors", "slots", "dr-weber", "--type", "gp-consult"), "--days", ["0", "91", "two"], "3"),
    (("reminders", "add", "--type", "gp-consult", "--recipient", "patient"), "--minutes-before",
     ["0", "43201", "٣٠", "2h"], "30"),
    (("worker",), "--interval", ["0", "-1", "nan", "inf", "86401", "soon"], None),
    (("demo",), "--appointments", ["0", "5000001", "-4", "1e3"], None),
    (("demo",), "--doctors", ["0", "2001"], None),
]


@pytest.mark.parametrize(("command", "option", "bad", "good"), BOUNDED, ids=lambda v: str(v)[:30])
def test_a_number_out_of_an_options_bounds_is_a_usage_error(cli: Cli, clinic: Desk, data_dir: Path, command: tuple[str, ...],
                                                              option: str, bad: list[str], good: str | None) -> None:
    before = fingerprint(data_dir)
    for value in bad:
        result = cli(*command, f"{option}={value}")
        assert result.code == 2, (value, result.err)
        assert result.err.count("\n") == 1 and option in result.err, result.err
        assert "Traceback" not in result.err and result.out == ""
    assert fingerprint(data_dir) == before
    if good is not None:
        assert cli(*command, option, good).code == 0


def test_no_command_reads_the_clock() -> None:
    """Time comes from the services' clock (RXDESK_NOW in tests and demos): a command that read
    the wall clock itself would show "today" as the machine's, not the desk's."""
    reads = re.compile(r"\b(datetime\.now|date\.today|datetime\.utcnow|time\.time)\(")
    found = [f"{path.name}: {match.group()}" for path in sorted((REPO / "rxdesk" / "commands").glob("*.py"))
             for match in reads.finditer(path.read_text())]
    assert found == []


def test_the_program_hands_over_everything_it_printed_and_its_exit_code(cli: Cli, clinic: Desk,
                                                                       cli_env: dict[str, str]) -> None:
    """`rxdesk` leaves without the interpreter's orderly shutdown: what it printed still
    arrives in full, and the exit code is the command's."""
    env = {**cli_env, "PYTHONPATH": str(REPO)}
    expected = cli("patients", "list", "--json").json()
    listed = subprocess.run([sys.executable, "-m", "rxdesk", "patients", "list", "--json"], env=env,
                            capture_output=True, text=True, cwd=REPO)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == expected and len(expected) > 1
    refused = subprocess.run([sys.executable, "-m", "rxdesk", "appointments", "show", "no-such-uid"], env=env,
                             capture_output=True, text=True, cwd=REPO)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("rxdesk: ")
    usage = subprocess.run([sys.executable, "-m", "rxdesk", "appointments", "list", "--limit", "0"], env=env,
                           capture_output=True, text=True, cwd=REPO)
    assert usage.returncode == 2 and usage.stdout == ""


@pytest.mark.parametrize(("argv", "command"), [
    (["patients", "list"], "patients"),
    (["--agent", "doctors", "patients", "list"], "patients"),  # an option's value is not the command
    (["--data-dir=x", "--no-worker", "types", "list"], "types"),
    (["--database-url", "postgresql://h/db", "store", "init"], "store"),
    (["--help"], None),
    (["--", "demo"], "demo"),
])
def test_the_command_is_found_before_its_module_loads(argv: list[str], command: str | None) -> None:
    from rxdesk.commands import CommandLine

    assert CommandLine.chosen(argv) == command


def test_a_command_after_the_top_levels_options_runs_with_them(cli: Cli, clinic: Desk) -> None:
    listed = cli("--agent", "doctors", "patients", "list", "--json")
    assert listed.code == 0 and {p["id"] for p in listed.json()} == {"pat-001", "pat-002", "pat-003"}
    helped = subprocess.run([sys.executable, "-m", "rxdesk", "--agent", "x", "doctors", "--help"],
                            capture_output=True, text=True, cwd=REPO)
    assert helped.returncode == 0 and "set-room" in helped.stdout and "away" in helped.stdout


# What a short command may load, counted in a fresh interpreter (not timed: a count does not
# depend on the machine's load). Today: --help 94 modules, a cancel 277.
HELP_BUDGET = 110
CANCEL_BUDGET = 285


def test_start_up_stays_within_its_module_budget(clinic: Desk, cli_env: dict[str, str], now: datetime) -> None:
    """`rxdesk --help` loads neither pydantic nor a service; `appointments cancel` loads no
    Textual, and no pydantic schema is built for it (`domain.plain`): building one loads
    pydantic's plugin lookup and `importlib.metadata`, a tenth of the command's time."""
    from datetime import timedelta

    from tests.helpers import make_appointment

    helped = loaded_after(["--help"], cli_env)
    assert helped["code"] == 0
    help_modules = helped["modules"]
    assert isinstance(help_modules, list) and len(help_modules) <= HELP_BUDGET, len(help_modules)
    assert heavy(help_modules, "pydantic", "textual", "rich", "rxdesk.services") == []
    uid = make_appointment(clinic, start=now + timedelta(days=2)).uid
    cancelled = loaded_after(["appointments", "cancel", uid, "--reason", "budget"], cli_env)
    assert cancelled["code"] == 0
    modules = cancelled["modules"]
    assert isinstance(modules, list) and len(modules) <= CANCEL_BUDGET, len(modules)
    assert heavy(modules, "textual", "rich", "importlib.metadata", "pydantic.plugin._loader") == []


def test_a_listing_on_the_data_dir_loads_no_pydantic(clinic: Desk, cli_env: dict[str, str], now: datetime) -> None:
    """The rows and the organisation's zone are read from their stored forms: a listing never
    needs a model, and pydantic's import was a third of its start-up (~50 ms)."""
    from datetime import timedelta

    from tests.helpers import make_appointment

    make_appointment(clinic, start=now + timedelta(days=2))
    for argv in (["appointments", "list"], ["appointments", "list", "--json"]):
        listed = loaded_after(argv, cli_env)
        assert listed["code"] == 0
        assert heavy(listed["modules"], "pydantic", "textual") == []


@pytest.mark.database_only
def test_a_listing_on_postgresql_loads_no_pydantic(clinic: Desk, cli_env: dict[str, str], now: datetime) -> None:
    """As on the data dir: the database's rows are read as their stored forms and the store's
    modules import the models only where they build one, so a listing on PostgreSQL loads
    neither pydantic nor the models (their import is ~50 ms of every command's start-up)."""
    from datetime import timedelta

    from tests.helpers import make_appointment

    make_appointment(clinic, start=now + timedelta(days=2))
    for argv in (["appointments", "list"], ["appointments", "list", "--json"]):
        listed = loaded_after(argv, cli_env)
        assert listed["code"] == 0
        assert "rxdesk.store.postgres.store" in listed["modules"]  # it did read the database
        assert heavy(listed["modules"], "pydantic", "rxdesk.domain.models", "textual") == []


@pytest.mark.database_only
def test_a_listing_and_a_cancel_on_postgresql_build_no_pydantic_schema(clinic: Desk, cli_env: dict[str, str],
                                                                        now: datetime) -> None:
    """As on the data dir: the organisation a command reads for its time zone is taken as
    stored when it has the shape validation leaves, and an event is made without validation
    when its values are already in their validated form (`Entity.of_plain`). Building a
    validator (pydantic's schema and plugin lookup) cost every command on the database a few
    milliseconds, and validating each event a doctor's away week hundreds of times more."""
    from datetime import timedelta

    from tests.helpers import make_appointment

    uid = make_appointment(clinic, start=now + timedelta(days=2)).uid
    listed = loaded_after(["appointments", "list"], cli_env)
    assert listed["code"] == 0
    assert heavy(listed["modules"], "pydantic.plugin._loader", "textual") == []
    cancelled = loaded_after(["appointments", "cancel", uid, "--reason", "budget"], cli_env)
    assert cancelled["code"] == 0
    assert heavy(cancelled["modules"], "pydantic.plugin._loader", "textual") == []


def test_every_readme_section_a_message_names_is_in_the_readme() -> None:
    """Messages send the agent to a README section by its title (`README (Damaged files, …)`,
    `README: Where data lives`): each title is a heading of README.md."""
    headings = {line.lstrip("#").strip() for line in (REPO / "README.md").read_text().splitlines()
                if line.startswith("#")}
    named = set()
    for source in (REPO / "rxdesk").rglob("*.py"):
        named.update(re.findall(r"README(?: \(|: )([A-Z][^)\"]*)\)", source.read_text()))
    assert named, "no message names a README section any more: this test has nothing to check"
    assert named <= headings, named - headings
