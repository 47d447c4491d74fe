"""A throwaway PostgreSQL cluster for tests, CI and the benchmark: nothing outside this machine.

`initdb` and `pg_ctl` refuse to run as root, so as root they run as the `postgres` user, in a
temp dir that user owns. The server listens on a unix socket in that dir and on 127.0.0.1 at a
free port (the port also names the socket); durability is switched off (fsync, full-page
writes): a test cluster is thrown away, never recovered.

From the shell (`.ci/run` does this, with a trap that stops it on exit):

    python -m tests.pgcluster start DIR     # prints the superuser URL on stdout
    python -m tests.pgcluster stop DIR

Besides the superuser, the cluster has a role `rxdesk_pw` that must log in with a password
over TCP (password `right-password`), so tests can see what a wrong password looks like.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

MAJOR = 15
PASSWORD_ROLE = "rxdesk_pw"
PASSWORD = "right-password"
SUPERUSER = "postgres"

HBA = f"""\
local   all   all                         trust
host    all   {PASSWORD_ROLE}   127.0.0.1/32   scram-sha-256
host    all   all               127.0.0.1/32   trust
"""


class ClusterError(RuntimeError):
    pass


def bindir() -> Path:
    """Where initdb and pg_ctl of PostgreSQL 15 live."""
    candidates = [Path(f"/usr/lib/postgresql/{MAJOR}/bin")]
    found = shutil.which("pg_config")
    if found:
        try:
            out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
            candidates.append(Path(out))
        except (OSError, subprocess.CalledProcessError):
            pass
    for which in ("initdb", "pg_ctl"):
        found = shutil.which(which)
        if found:
            candidates.append(Path(found).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise ClusterError(
        f"PostgreSQL {MAJOR} server binaries (initdb, pg_ctl) not found; "
        f"install them (Debian: apt-get install postgresql-{MAJOR})"
    )


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", SUPERUSER, "--", *argv]


def _run(argv: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip()[-2000:]
        raise ClusterError(f"{Path(argv[0]).name} failed ({proc.returncode}): {said}")
    return proc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One PostgreSQL server in `base` (its data dir, socket and log)."""

    def __init__(self, base: Path) -> None:
        self.base = Path(base)
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port_file = self.base / "port"

    @property
    def port(self) -> int:
        return int(self.port_file.read_text())

    @property
    def socket_dir(self) -> Path:
        return self.base

    def url(self, dbname: str = "postgres", *, user: str = SUPERUSER, password: str | None = None,
            tcp: bool = False) -> str:
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password is not None else "")
        if tcp:
            return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"
        return f"postgresql://{auth}@/{dbname}?host={quote(str(self.socket_dir), safe='')}&port={self.port}"

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, SUPERUSER, SUPERUSER)

    def init(self) -> None:
        self.base.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._chown(self.base)
        tools = bindir()
        _run([str(tools / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
              "--encoding=UTF8", "--locale=C", "--no-sync"])
        hba = self.data / "pg_hba.conf"
        hba.write_text(HBA)
        self._chown(hba)

    def start(self, *, attempts: int = 5, durable: bool = False, same_port: bool = False) -> None:
        """Start the server; `durable` keeps PostgreSQL's defaults for fsync and commits (what a
        benchmark must measure), else they are off (a test cluster is never recovered).
        `same_port` starts it again where it listened before (a server restart, as clients
        see one)."""
        tools = bindir()
        last = ""
        for _ in range(attempts):
            port = self.port if same_port else free_port()
            self.port_file.write_text(str(port))
            speed = [] if durable else ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
            options = " ".join([
                f"-p {port}", f"-k {self.socket_dir}", "-c listen_addresses=127.0.0.1", *speed,
                "-c max_connections=300", "-c shared_buffers=128MB",
            ])
            try:
                _run([str(tools / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                      "-o", options, "start"])
            except ClusterError as exc:  # most likely the port was taken meanwhile
                last = str(exc) + self._log_tail()
                continue
            if not same_port:
                self._psql_superuser(
                    f"CREATE ROLE {PASSWORD_ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'"
                )
            return
        raise ClusterError(f"could not start PostgreSQL: {last}")

    def _log_tail(self) -> str:
        try:
            return "\n" + self.log.read_text()[-1500:]
        except OSError:
            return ""

    def _psql_superuser(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(statement)  # a fixed statement of this module, no outside values

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server: `immediate` as a crash would, `fast` as an operator's restart does
        (every session is ended first)."""
        if not (self.data / "postmaster.pid").exists():
            return
        with contextlib.suppress(ClusterError):
            _run([str(bindir() / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], timeout=60)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def start_cluster(base: Path | None = None, *, durable: bool = False) -> Cluster:
    """A new cluster, initialised and running, in `base` or a fresh temp dir."""
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="rxpg-", dir="/tmp" if os.path.isdir("/tmp") else None))
    cluster = Cluster(base)
    cluster.init()
    try:
        cluster.start(durable=durable)
    except BaseException:
        cluster.remove()
        raise
    return cluster


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        sys.stderr.write("usage: python -m tests.pgcluster start|stop DIR\n")
        return 2
    base = Path(argv[1])
    if argv[0] == "start":
        started = time.monotonic()
        cluster = start_cluster(base)
        sys.stderr.write(f"PostgreSQL {MAJOR} on port {cluster.port} in {base} ({time.monotonic() - started:.1f} s)\n")
        print(cluster.url())
        return 0
    Cluster(base).remove()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
