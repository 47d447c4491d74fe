"""Command-line plumbing: the parser builder, the context handed to every command, the runner.

A command module has `register(cli: CommandLine)` and adds its commands with
`cli.command(group, name, handler, help=...)`, which returns the argparse parser for its options.
Handlers take `(args, ctx: Context)` and return an exit code (None means 0). They raise
`RxdeskError` for anything refused; the runner turns it into one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rxdesk.crashlog import log_crash
from rxdesk.domain.errors import ConfigError, RxdeskError, StoreError, short_path
from rxdesk.domain.terminal import terminal_safe

if TYPE_CHECKING:
    from rxdesk.config import Settings
    from rxdesk.services import Desk

Handler = Callable[[argparse.Namespace, "Context"], "int | None"]

GROUP_HELP = {
    "appointments": "list, show, cancel and rebook appointments; mark attendance",
    "booking": "patient booking calls behind a booking token",
    "secrets": "booking-token secrets (create, list, reveal, revoke)",
    "token": "check a patient booking token",
    "doctors": "doctors, their rooms and phone numbers",
    "patients": "patients and their appointments",
    "types": "appointment types",
    "reminders": "reminder rules of appointment types",
    "subscriptions": "webhook subscriptions",
    "deliveries": "webhook deliveries",
    "events": "the event log",
    "store": "the PostgreSQL store: create its schema, import a data dir, compare them",
}


class UsageError(Exception):
    """Raised by the parser instead of exiting, so the runner owns every exit."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """Usage errors as one line; options only as spelled in full (no silent abbreviations)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message)


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--data-dir", metavar="DIR", default=default,
        help="data directory (env RXDESK_DATA_DIR; default: the per-user data dir)",
    )
    parser.add_argument(
        "--agent", metavar="NAME", default=default,
        help="your name in the audit log (env RXDESK_AGENT; default: your login)",
    )
    parser.add_argument(
        "--database-url", metavar="URL", default=default,
        help="keep the data in PostgreSQL instead of the data dir (env RXDESK_DATABASE_URL; "
        "prefer the environment or a password file for the password)",
    )


class CommandLine:
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
        self.parser.set_defaults(handler=None)
        self._top = self.parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
        self._groups: dict[str, argparse._SubParsersAction[Parser]] = {}

    def _group(self, group: str) -> argparse._SubParsersAction[Parser]:
        if group not in self._groups:
            parser = self._top.add_parser(group, help=GROUP_HELP.get(group, ""), description=GROUP_HELP.get(group))
            _common(parser, top=False)
            parser.set_defaults(handler=_needs_subcommand(parser))
            self._groups[group] = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=Parser)
        return self._groups[group]

    def command(
        self, group: str | None, name: str, handler: Handler, *, help: str, description: str | None = None
    ) -> argparse.ArgumentParser:
        where = self._top if group is None else self._group(group)
        parser = where.add_parser(name, help=help, description=description or help)
        _common(parser, top=False)
        parser.set_defaults(handler=handler)
        return parser


def no_data_message(data_dir: Path, database: str | None = None) -> str:
    if database:
        return (f"the {database} holds no rxdesk data; create a clinic there with `rxdesk provision FILE.toml` or "
                "`rxdesk demo`, copy a data dir in with `rxdesk store import DATA_DIR`, or name the right one "
                "with --database-url or RXDESK_DATABASE_URL")
    where = short_path(data_dir)
    state = "does not exist" if not data_dir.exists() else "holds no rxdesk data"
    return (f"data dir {where} {state}; create a clinic there with `rxdesk provision FILE.toml` or "
            "`rxdesk demo`, or name the right one with --data-dir or RXDESK_DATA_DIR")


def _needs_subcommand(parser: argparse.ArgumentParser) -> Handler:
    def handler(args: argparse.Namespace, ctx: Context) -> int:
        raise UsageError(parser.prog, "a command is required (see --help)")

    return handler


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (field names as in the data model)")


class Context:
    """What a command needs: settings, the services, and the output streams."""

    def __init__(self, args: argparse.Namespace, stdout: Any = None, stderr: Any = None) -> None:
        self.args = args
        self.out = stdout or sys.stdout
        self.err = stderr or sys.stderr

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

        desk = Desk.open(self.settings)
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
        return self.desk.org().timezone

    def print(self, text: str = "") -> None:
        """A line (or block) of output; whatever came from data is shown escaped."""
        self.out.write(terminal_safe(text, lines=True) + "\n")

    def json(self, data: Any) -> None:
        import orjson

        self.out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n")

    def table(self, headers: list[str], rows: list[list[str]], *, empty: str = "nothing to show") -> None:
        """An aligned plain-text table (fast on thousands of rows, pipes cleanly)."""
        if not rows:
            self.err.write(f"{empty}\n")
            return
        rows = [[terminal_safe(cell) for cell in row] for row in rows]
        columns = list(zip(*rows, strict=True))
        widths = [max(len(h), *map(len, col)) for h, col in zip(headers, columns, strict=True)]
        # Pad every column but the last; one format string per table is the fast path.
        pattern = "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
        lines = [pattern.format(*headers).rstrip()]
        lines.extend(pattern.format(*row).rstrip() for row in rows)
        self.out.write("\n".join(lines) + "\n")

    def fields(self, pairs: list[tuple[str, str]]) -> None:
        width = max((len(k) for k, _ in pairs), default=0)
        self.out.write("".join(f"{k.ljust(width)}  {terminal_safe(v)}\n" for k, v in pairs))


def _say(line: str) -> None:
    """One line on stderr; a message may quote data, so it is shown escaped."""
    sys.stderr.write(terminal_safe(line) + "\n")


def _os_problem(exc: OSError) -> str:
    """What the operating system refused, in one line: the reason and the (shortened) path."""
    reason = exc.strerror or type(exc).__name__
    return f"{reason}: {short_path(exc.filename)}" if exc.filename is not None else reason


def _log_crash(ctx: Context | None) -> str:
    """Keep the traceback for support; the agent sees one line."""
    data_dir = None
    try:
        if ctx is not None:
            data_dir = ctx.settings.data_dir
    except Exception:  # noqa: BLE001 - the crash log needs a place, not the reason it has none
        pass
    return log_crash(data_dir)


def run(parser: argparse.ArgumentParser, argv: list[str]) -> int:
    ctx: Context | None = None
    try:
        try:
            args = parser.parse_args(argv)
        except UsageError as exc:
            _say(f"{exc.prog}: error: {' '.join(str(exc).split())} (see {exc.prog} --help)")
            return 2
        except SystemExit as exc:  # --help printed its text
            return int(exc.code or 0)
        ctx = Context(args)
        handler = args.handler
        if handler is None:
            return open_app(args, ctx)
        try:
            return handler(args, ctx) or 0
        except UsageError as exc:
            _say(f"{exc.prog}: error: {' '.join(str(exc).split())} (see {exc.prog} --help)")
            return 2
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
    from rxdesk.tui.app import run_app

    return run_app(ctx.settings, worker=not args.no_worker) or 0
