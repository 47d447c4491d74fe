"""Run the benchmark and write BENCHMARKS.md.

    python -m bench                      data sets A, B and C, 5 runs each (about 30 minutes)
    python -m bench --sets A --runs 3    a subset
    python -m bench --smoke --out X.md   10k appointments, one run: proves the benchmark runs

Data sets (DESIGN, "Demo data shape"; built once under bench/.data and reused):
  A  100k appointments, defaults (20 doctors, 5k upcoming)
  B  1M appointments, --doctors 20 --upcoming 5000 (A's clinic with ten times the history)
  C  1M appointments, defaults (200 doctors, 50k upcoming)
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bench import probes
from bench.datasets import ROOT, Built, Spec, build
from bench.places import DatabasePlaces, PgServer
from bench.report import METRICS, render

SETS = {
    "A": Spec("A", 100_000),
    "B": Spec("B", 1_000_000, doctors=20, upcoming=5000),
    "C": Spec("C", 1_000_000),
}
SMOKE = Spec("S", 10_000)


def machine() -> dict[str, str]:
    mem = ""
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
            mem = f"{kb / 2**20:.0f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def cpu_reference() -> float:
    """Milliseconds for a fixed pure-Python loop (median of three): how fast this machine is
    running right now. A shared VM's speed drifts; the report shows it beside the figures."""
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(3_000_000):
            total += i
        samples.append((time.perf_counter() - started) * 1000)
    return sorted(samples)[1]


def commit_measured() -> tuple[str, bool]:
    """The commit the figures are of, and whether the working tree differs from it (beyond
    the benchmark's own data sets and reports)."""
    root = Path(__file__).resolve().parent.parent

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=root, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD")
    changed = [line for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
               if not line[3:].startswith(("bench/.data", "BENCHMARKS.md"))]
    return commit or "unknown", bool(changed) or not commit


def byte_compile() -> None:
    """Measure rxdesk as installed: pip byte-compiles a package when it installs it, but an
    editable checkout under PYTHONDONTWRITEBYTECODE would recompile every module on every
    command and charge that to each figure."""
    import compileall

    import rxdesk

    compileall.compile_dir(Path(rxdesk.__file__).parent, quiet=1)


def measure_on_postgres(server: PgServer, built: Built, work: Path, *, runs: int, figures: dict,
                        log: Callable[[str], None]) -> dict[str, float]:
    """The same figures with the data set in a PostgreSQL database (`store import`ed once,
    each measurement on its own copy); added to `figures` under "pg"."""
    log("importing into PostgreSQL ...")
    template, seconds = server.load(built, work / "pg")
    log(f"store import {seconds:.1f} s")
    places = DatabasePlaces(server, template, work / "pg")
    try:
        for key, fig in probes.measure_all(built, work / "pg", runs=runs, naive=False, log=log, places=places).items():
            figures.setdefault(key, {}).update(fig)
        size = server.size(template)
    finally:
        places.drop_all()
        server.drop(template)  # named for this run: nobody else's to reuse
    return {"import_seconds": seconds, "bytes": size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="A,B,C", help="comma-separated data sets (A, B, C)")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; the median is reported")
    parser.add_argument("--smoke", action="store_true", help="10k appointments, one run, no naive baseline by default")
    parser.add_argument("--naive", choices=["yes", "no"], default=None, help="measure the naive baseline too")
    parser.add_argument("--out", default=None,
                        help="where to write the report (default BENCHMARKS.md; with --smoke a temp file)")
    parser.add_argument("--data", default=str(ROOT), help="where data sets are built and kept")
    parser.add_argument("--pg-sets", default=None,
                        help="data sets also measured on PostgreSQL (default A,B; with --smoke the smoke set; "
                             "'' for none). The server: RXDESK_BENCH_DATABASE_URL, else a throwaway cluster")
    parser.add_argument("--cli-only", action="store_true",
                        help="the command line's figures alone (no worker, no app, no PostgreSQL)")
    parser.add_argument("--dirty-ok", action="store_true",
                        help="measure a working tree with uncommitted changes (the report says so)")
    args = parser.parse_args(argv)
    commit, dirty = commit_measured()
    if dirty and not (args.smoke or args.dirty_ok):
        print(f"python -m bench: the working tree differs from {commit}: a report measures one commit; "
              "commit first (or pass --dirty-ok, and the report says so)", file=sys.stderr)
        return 2

    if args.smoke:
        specs, runs = [SMOKE], 1
        out = Path(args.out) if args.out else Path(tempfile.mkdtemp()) / "BENCHMARKS.md"
        naive = args.naive == "yes"
    else:
        specs = [SETS[name.strip().upper()] for name in args.sets.split(",") if name.strip()]
        runs = max(1, args.runs)
        out = Path(args.out) if args.out else Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
        naive = args.naive != "no"

    # Stopped from outside (SIGTERM): unwind, so a PostgreSQL cluster the run started is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    pg_sets = {s.strip().upper() for s in (args.pg_sets if args.pg_sets is not None
                                          else ("S" if args.smoke else "A,B")).split(",") if s.strip()}
    if args.cli_only:
        pg_sets = set()
    byte_compile()
    results: dict[str, dict] = {}
    started = time.perf_counter()
    speeds: list[float] = []
    server = PgServer() if pg_sets & {spec.name for spec in specs} else None
    try:
        for spec in specs:
            speeds.append(cpu_reference())
            print(f"[{spec.name}] building {spec.describe()} ...", flush=True)
            built = build(spec, Path(args.data))
            print(f"[{spec.name}] {built.stats}", flush=True)
            work = Path(tempfile.mkdtemp(prefix=f"rxdesk-bench-{spec.name}-"))
            log = lambda m, n=spec.name: print(f"[{n}] {m}", flush=True)  # noqa: E731
            figures = probes.measure_all(built, work, runs=runs, naive=naive, log=log, cli_only=args.cli_only)
            results[spec.name] = {"spec": spec, "stats": built.stats, "figures": figures}
            if server is not None and spec.name in pg_sets:
                results[spec.name]["pg"] = measure_on_postgres(server, built, work, runs=runs, figures=figures, log=log)
    finally:
        if server is not None:
            server.close()
    speeds.append(cpu_reference())
    extra: dict[str, object] = {"cpu_reference_ms": speeds, "commit": commit, "dirty": dirty}
    if not args.smoke and "C" in results:
        extra["demo_1m_seconds"] = results["C"]["stats"]["demo_seconds"]
    text = render(results, machine=machine(), date=datetime.now().strftime("%Y-%m-%d"), runs=runs, extra=extra,
                  smoke=args.smoke)
    out.write_text(text)
    print(text)
    print(f"wrote {out} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))


__all__ = ["METRICS", "main"]
