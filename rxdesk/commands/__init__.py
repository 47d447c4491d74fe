"""Command-line plumbing: the parser, the context handed to every command, the runner.

Every top-level command and every command group lives in its module of this package, named in
`COMMANDS` with its one-line help (a large group may add a second module, such as a command of
its own weight). The parser knows every name but imports a module only when
its command runs or its help is asked for, and a module imports its service only inside its
handlers: `rxdesk --help` and the parse of any command load neither pydantic nor a service.

A module has `register(cli: CommandLine)` and adds its commands with
`cli.command(group, name, handler, help=...)` (group None for a top-level command), which
returns the argparse parser for its options (`commands.options` has the option types).
Handlers take `(args, ctx: Context)` and return an exit code (None means 0). They raise
`RxdeskError` for anything refused; the runner turns it into one line on stderr and exit 1.
They print through the context (`commands.output`), which escapes whatever came from data.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rxdesk import __version__
from rxdesk.commands.options import add_json
from rxdesk.commands.output import Output
from rxdesk.domain.errors import ConfigError, RxdeskError, StoreError, short_path

if TYPE_CHECKING:
    from rxdesk.config import Settings
    from rxdesk.services import Desk

__all__ = ["COMMANDS", "CommandLine", "Context", "UsageError", "add_json", "build_parser", "run"]

Handler = Callable[[argparse.Namespace, "Context"], "int | None"]

# name: (the modules in this package that register its commands, one-line help), in the order
# `rxdesk --help` lists them. A group may take commands from more than one module.
COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "demo": (("demo",), "fill the data dir with a realistic demo clinic"),
    "provision": (("provision",), "upsert org, admins, types, doctors, patients from a TOML file"),
    "worker": (("worker",), "the maintenance manager, headless (every minute)"),
    "appointments": (("appointments",), "list, show, book, cancel and rebook appointments; mark attendance"),
    "attention": (("attention",), "what needs an agent now, most urgent first, each with the command that fixes it"),
    "booking": (("booking",), "patient booking calls behind a booking token"),
    "secrets": (("secrets",), "booking-token secrets (create, list, reveal, revoke)"),
    "token": (("token",), "check a patient booking token"),
    "doctors": (("doctors", "away"), "doctors, their rooms, phone numbers and slots; a doctor away"),
    "patients": (("patients",), "patients and their appointments"),
    "types": (("types",), "appointment types"),
    "reminders": (("reminders",), "reminder rules of appointment types"),
    "subscriptions": (("subscriptions",), "webhook subscriptions"),
    "deliveries": (("deliveries",), "webhook deliveries"),
    "outbox": (("outbox",), "emails and SMS of reminders (sent, or kept here when unconfigured)"),
    "events": (("events",), "the event log"),
    "audit": (("audit",), "the audit trail across the desk: what agents did, who did this"),
    "store": (("store",), "the PostgreSQL store: create its schema, import a data dir, compare them"),
}


class UsageError(Exception):
    """Raised by the parser instead of exiting, so the runner owns every exit."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


# A value that starts with a dash but is a day or a span, not an option: `--from -14d`.
_DASHED_VALUE = re.compile(r"-\d{1,5}[dwh]?")


def joined_values(argv: Sequence[str]) -> list[str]:
    """`--from -14d` as `--from=-14d`: argparse would read `-14d` as an unknown option. Only a
    dash, digits and a unit after a long option; anything else is left as typed."""
    out: list[str] = []
    for arg in argv:
        if (out and _DASHED_VALUE.fullmatch(arg) and out[-1].startswith("--") and "=" not in out[-1]
                and out[-1] != "--"):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


class Parser(argparse.ArgumentParser):
    """Usage errors as one line; options only as spelled in full (no silent abbreviations)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        return super().parse_known_args(joined_values(sys.argv[1:] if args is None else args), namespace)

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


# The top level's options that take a value: what `CommandLine.chosen` steps over to find the
# command's name (`_common` and the top level's own options say which they are).
_VALUED = frozenset({"--data-dir", "--agent", "--database-url"})


def _common(parser: argparse.ArgumentParser, *, top: bool, agent: bool = True) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--data-dir", metavar="DIR", default=default,
        help="data directory (env RXDESK_DATA_DIR; default: the per-user data dir)",
    )
    if agent:
        parser.add_argument(
            "--agent", metavar="NAME", default=default,
            help="your name in the audit log (env RXDESK_AGENT; default: your login)",
        )
    parser.add_argument(
        "--database-url", metavar="URL", default=default,
        help="keep the data in PostgreSQL instead of the data dir (env RXDESK_DATABASE_URL; "
        "prefer the environment or a password file for the password)",
    )


def _needs_subcommand(parser: argparse.ArgumentParser) -> Handler:
    def handler(args: argparse.Namespace, ctx: Context) -> int:
        raise UsageError(parser.prog, "a command is required (see --help)")

    return handler


class CommandLine:
    """The parser: every command's name and help at once, each module's commands on demand
    (`parse` loads the chosen command's modules first; `load_all` fills in every one, and
    `commands` holds each command's parser by its path, for the tests that walk them all)."""

    def __init__(self) -> None:
        self.parser = Parser(
            prog="rxdesk",
            description="The support desk for appointment operations. "
            "Without a command, opens the app.",
        )
        _common(self.parser, top=True)
        self.parser.add_argument(
            "--no-worker", action="store_true",
            help="open the app without running the maintenance worker inside it",
        )
        self.parser.add_argument("--version", action="version", version=f"rxdesk {__version__}",
                                 help="print rxdesk's version and exit")
        self.parser.set_defaults(handler=None)
        top = self.parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
        self._stubs: dict[str, Parser] = {}
        # A group's `add_parser`, made when its first command is registered.
        self._groups: dict[str, Callable[..., Parser]] = {}
        self._loaders: dict[str, Callable[[], None]] = {}
        self.commands: dict[tuple[str, ...], Parser] = {}
        for name, (modules, help_text) in COMMANDS.items():
            stub = top.add_parser(name, help=help_text, description=help_text)
            _common(stub, top=False)
            stub.set_defaults(handler=_needs_subcommand(stub))
            self._stubs[name] = stub
            self._loaders[name] = self._loader(modules)

    @staticmethod
    def chosen(argv: Sequence[str]) -> str | None:
        """The command `argv` names: its first word that is neither an option of the top level
        nor such an option's value."""
        words = iter(argv)
        for word in words:
            if word == "--":
                return next(words, None)
            if not word.startswith("-"):
                return word
            if word in _VALUED:
                next(words, None)
        return None

    def parse(self, argv: Sequence[str]) -> argparse.Namespace:
        """`argv` parsed, the chosen command's modules loaded first (its help included)."""
        load = self._loaders.pop(self.chosen(argv) or "", None)
        if load is not None:
            load()
        return self.parser.parse_args(argv)

    def _loader(self, modules: tuple[str, ...]) -> Callable[[], None]:
        def load() -> None:
            from importlib import import_module

            for module in modules:
                import_module(f"rxdesk.commands.{module}").register(self)

        return load

    def load_all(self) -> argparse.ArgumentParser:
        for name in list(self._loaders):
            self._loaders.pop(name)()
        return self.parser

    def _group(self, group: str) -> Callable[..., Parser]:
        if group not in self._groups:
            self._groups[group] = self._stubs[group].add_subparsers(title="commands", metavar="COMMAND",
                                                                   parser_class=Parser).add_parser
        return self._groups[group]

    def command(
        self, group: str | None, name: str, handler: Handler, *, help: str, description: str | None = None,
        agent_option: bool = True,
    ) -> argparse.ArgumentParser:
        """The parser of `rxdesk GROUP NAME` (or of the top-level command `rxdesk NAME`), run
        by `handler`. Without `agent_option` the command's own `--agent` may mean something
        else (whose entries `audit list` shows); `rxdesk --agent NAME` still names the agent."""
        if group is None:
            parser = self._stubs[name]
            parser.description = description or help
        else:
            parser = self._group(group)(name, help=help, description=description or help)
            _common(parser, top=False, agent=agent_option)
        parser.set_defaults(handler=handler)
        self.commands[(name,) if group is None else (group, name)] = parser
        return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, every module loaded."""
    return CommandLine().load_all()


def no_data_message(data_dir: Path, database: str | None = None) -> str:
    if database:
        return (f"the {database} holds no rxdesk data; create a clinic there with `rxdesk provision FILE.toml` or "
                "`rxdesk demo`, copy a data dir in with `rxdesk store import DATA_DIR`, or name the right one "
                "with --database-url or RXDESK_DATABASE_URL")
    where = short_path(data_dir)
    state = "does not exist" if not data_dir.exists() else "holds no rxdesk data"
    return (f"data dir {where} {state}; create a clinic there with `rxdesk provision FILE.toml` or "
            "`rxdesk demo`, or name the right one with --data-dir or RXDESK_DATA_DIR")


class Context(Output):
    """What a command needs: settings, the services, and the output (`commands.output`)."""

    def __init__(self, args: argparse.Namespace, stdout: Any = None, stderr: Any = None, *,
                 short_lived: bool = False) -> None:
        super().__init__(stdout or sys.stdout, stderr or sys.stderr, as_json=bool(getattr(args, "json", False)))
        self.args = args
        self.short_lived = short_lived  # the process ends with the command (`cli.entry`)

    @cached_property
    def settings(self) -> Settings:
        from rxdesk.config import Settings

        return Settings.from_env(data_dir=getattr(self.args, "data_dir", None), agent=getattr(self.args, "agent", None),
                                 database_url=getattr(self.args, "database_url", None))

    @cached_property
    def desk(self) -> Desk:
        """The services on the data dir. Only `demo` and `provision` (which set `creates_data`)
        may start from a data dir without rxdesk data: for every other command a missing or
        empty one is a typo or the wrong machine, never an empty clinic."""
        from rxdesk.services import Desk

        desk = Desk.open(self.settings, long_running=getattr(self.args, "long_running", False),
                         short_lived=self.short_lived)
        try:
            if not getattr(self.args, "creates_data", False) and desk.is_empty():
                database = desk.store.location if self.settings.database_url else None
                raise StoreError(no_data_message(self.settings.data_dir, database))
        except BaseException:
            desk.close()
            raise
        return desk

    @property
    def agent(self) -> str:
        return self.settings.agent

    @cached_property
    def timezone(self) -> str:
        """The organisation's zone, every time printed is in: read from its stored form, so a
        command that needs nothing else of it never builds its model (pydantic, ~50 ms)."""
        return self.desk.org_basics().timezone


def _say(line: str) -> None:
    """One line on stderr; a message may quote data, so it is shown escaped."""
    from rxdesk.domain.terminal import terminal_safe

    sys.stderr.write(terminal_safe(line) + "\n")


def _os_problem(exc: OSError) -> str:
    """What the operating system refused, in one line: the reason and the (shortened) path."""
    reason = exc.strerror or type(exc).__name__
    return f"{reason}: {short_path(exc.filename)}" if exc.filename is not None else reason


def _log_crash(ctx: Context | None) -> str:
    """Keep the traceback for support; the agent sees one line."""
    from rxdesk.crashlog import log_crash

    data_dir = None
    try:
        if ctx is not None:
            data_dir = ctx.settings.data_dir
    except Exception:  # noqa: BLE001 - the crash log needs a place, not the reason it has none
        pass
    return log_crash(data_dir)


def _usage(exc: UsageError) -> int:
    _say(f"{exc.prog}: error: {' '.join(str(exc).split())} (see {exc.prog} --help)")
    return 2


def undecodable(argv: Sequence[str]) -> str | None:
    """The first argument that is not text: bytes that are not UTF-8 reach Python as lone
    surrogates (PEP 383), which no lookup, file or database can take."""
    return next((arg for arg in argv if _SURROGATE.search(arg)), None)


_SURROGATE = re.compile("[\ud800-\udfff]")


def run(argv: list[str], parser: argparse.ArgumentParser | None = None, *, short_lived: bool = False) -> int:
    """Run one command line; `short_lived`: the process ends with it (`cli.entry`)."""
    ctx: Context | None = None
    bad = undecodable(argv)
    if bad is not None:
        _say(f"rxdesk: the argument {bad[:80]!r} is not valid UTF-8 text; nothing was done")
        return 1
    try:
        try:
            args = parser.parse_args(argv) if parser is not None else CommandLine().parse(argv)
        except UsageError as exc:
            return _usage(exc)
        except SystemExit as exc:  # --help printed its text
            return int(exc.code or 0)
        ctx = Context(args, short_lived=short_lived)
        handler = args.handler
        if handler is None:
            return open_app(args, ctx)
        try:
            return handler(args, ctx) or 0
        except UsageError as exc:
            return _usage(exc)
    except RxdeskError as exc:
        _say(f"rxdesk: {exc}")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("rxdesk: interrupted\n")
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): not an error worth a message.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
    except OSError as exc:
        if exc.errno is None:
            where = _log_crash(ctx)
            sys.stderr.write(f"rxdesk: internal error ({type(exc).__name__}); details were written to {where}\n")
            return 1
        _say(f"rxdesk: {_os_problem(exc)}")  # no such file, disk full, name too long, ...
        return 1
    except Exception as exc:  # noqa: BLE001 - one line for the agent; support gets the traceback
        where = _log_crash(ctx)
        sys.stderr.write(f"rxdesk: internal error ({type(exc).__name__}); details were written to {where}\n")
        return 1
    finally:
        if ctx is not None and "desk" in ctx.__dict__:
            try:
                ctx.desk.close()
            except Exception:  # noqa: BLE001 - closing is tidiness; the command's answer is given
                pass


def open_app(args: argparse.Namespace, ctx: Context) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        # From cron, a script or a pipe the app would run forever writing escape codes.
        raise ConfigError("the app needs a terminal (stdin and stdout are not one); for the maintenance "
                          "worker without a terminal run `rxdesk worker`, for scripts see `rxdesk --help`")
    from rxdesk.tui import hold_collector

    hold_collector()  # before Textual and the app are imported
    from rxdesk.tui.app import run_app

    return run_app(ctx.settings, worker=not args.no_worker) or 0
