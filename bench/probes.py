"""Each figure of the benchmark, measured for rxdesk and, where it has one, the naive baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import badday_probe, worker_probe
from bench.datasets import NOW, Built, lean_naive
from bench.measure import copy_file, expect, median_of, run_timed, rxdesk_cmd
from bench.places import DatabasePlaces, DataDirPlaces, Place

Log = Callable[[str], None]
PAIRS = 5  # the fewest pairs of listings the per-row cost is taken from
COMMAND_RUNS = 7  # the fewest new processes a command's figure is the median of (a CLI cancel, the driver's import)
APP_FIGURES = ("app_first_paint", "app_cursor", "app_filter", "app_cancel", "app_cancel_first", "app_end", "app_freeze",
               "app_freeze_cpu", "app_memory")


def upcoming_confirmed(place: Place, count: int) -> list[str]:
    """uids of the next `count` confirmed appointments (things an agent would cancel)."""
    from rxdesk.domain.queries import AppointmentQuery

    desk = place.desk()
    try:
        with desk.store.read() as view:
            page = view.appointments.search(
                AppointmentQuery(statuses=frozenset({"confirmed"}), starts_from=NOW, limit=count, count=False)
            )
        return [row.uid for row in page.items]
    finally:
        desk.close()


def statuses(place: Place, uids: list[str]) -> set[str]:
    """The statuses these appointments have in the store now."""
    desk = place.desk()
    try:
        return {desk.appointments.get(uid).status.value for uid in uids}
    finally:
        desk.close()


def rows_printed(argv: list[str], env: dict[str, str] | None) -> int:
    """How many rows a listing prints (its lines but the header)."""
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    return max(0, out.count("\n") - 1)


def import_costs(argv: list[str], env: dict[str, str] | None = None, *, top: int = 8) -> dict[str, Any]:
    """Where a command's start-up goes (`python -X importtime`): the total time spent importing
    and the packages that cost most (their modules' own times added up, rxdesk by subpackage)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "rxdesk", *argv], env=env,
                          capture_output=True, text=True, check=False)
    by_package: dict[str, float] = {}
    total = 0.0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line[len("import time:"):].split("|", 2)
        name = name.strip()
        parts = name.split(".")
        package = ".".join(parts[:2]) if parts[0] == "rxdesk" else parts[0]
        by_package[package] = by_package.get(package, 0.0) + int(own) / 1e6
        total += int(own) / 1e6
    ranked = sorted(by_package.items(), key=lambda item: -item[1])[:top]
    return {"total": total, "top": ranked}


def measure_all(built: Built, work: Path, *, runs: int, naive: bool, log: Log,
                places: DataDirPlaces | DatabasePlaces | None = None,
                cli_only: bool = False) -> dict[str, dict[str, Any]]:
    """Every figure on one kind of store: data dirs (the default, with the naive baseline and
    `--help`), or PostgreSQL databases (`places`); keyed by `places.backend`. `cli_only`: the
    command line's figures alone."""
    places = places or DataDirPlaces(built, work)
    who = places.backend
    figures: dict[str, dict[str, Any]] = {}
    place = places.new("cli")
    env = place.env()
    cmd = rxdesk_cmd()
    uids = upcoming_confirmed(place, 40 + runs * 6)

    if who == "rxdesk":
        run_timed([*cmd, "--help"])  # warm the file cache like any second run
        figures["help"] = {who: median_of([run_timed([*cmd, "--help"]) for _ in range(runs)])}
        log(f"--help {figures['help'][who]:.3f} s")

    listing = [*cmd, "appointments", "list"]
    run_timed(listing, env)
    figures["cli_list"] = {who: median_of([run_timed(listing, env) for _ in range(runs)])}
    log(f"{who} list {figures['cli_list'][who]:.3f} s")
    # What a command on this store pays before it has done anything: a new interpreter that
    # imports the store's driver and nothing else (the data dir has none). Beside the listing,
    # it says how much of PostgreSQL's start-up is the driver's to pay.
    driver = [sys.executable, "-c", "import psycopg" if who == "pg" else "pass"]
    run_timed(driver)
    figures["driver_import"] = {who: median_of([run_timed(driver) for _ in range(max(runs, COMMAND_RUNS))])}
    log(f"{who} driver import {figures['driver_import'][who]:.3f} s")
    # Per row printed beyond start-up: the same listing with its limit at one row and at every
    # row (a limit makes it count the matches; both runs do, so only the rows differ).
    rows = rows_printed(listing, env)
    expect(rows > 1, f"{who}: the default listing printed {rows} rows")
    every_argv = [*listing, "--limit", str(rows)]
    one_argv = [*listing, "--limit", "1"]
    expect(rows_printed(one_argv, env) == 1 and rows_printed(every_argv, env) == rows,
           f"{who}: `--limit 1` and `--limit {rows}` did not print 1 and {rows} rows")
    # Pairs taken one after the other, the difference of each pair: a busy machine's drift
    # cancels out; at least five pairs, the difference being a small part of each run.
    pairs = [(run_timed(one_argv, env), run_timed(every_argv, env)) for _ in range(max(runs, PAIRS))]
    one, every = median_of([p[0] for p in pairs]), median_of([p[1] for p in pairs])
    per_row = median_of([b - a for a, b in pairs]) / (rows - 1)
    note = f"{rows:,} rows in {every * 1000:.0f} ms, one in {one * 1000:.0f} ms"
    if per_row > 0:
        figures["cli_list_row"] = {who: per_row, places.key("note"): note}
    else:
        figures["cli_list_row"] = {places.key("note"): f"not measured: within the noise ({note})"}
    log(f"{who} list per row {per_row * 1e6:.1f} µs over {rows:,} rows ({every:.3f} s, one row {one:.3f} s)")

    # A cancel commits durably (an fsync per file it writes): what the benchmark's own copies and imports left
    # for the disk to write back is flushed first, or it lengthens those fsyncs in one data set's
    # run and not the other's. More cancels than `runs`: one slow fsync moves a median of three.
    os.sync()
    cancelled = [uids.pop() for _ in range(max(runs, COMMAND_RUNS) + 1)]
    run_timed([*cmd, "appointments", "cancel", cancelled[0], "--reason", "benchmark"], env)
    samples = [run_timed([*cmd, "appointments", "cancel", uid, "--reason", "benchmark"], env)
               for uid in cancelled[1:]]
    figures["cli_cancel"] = {who: median_of(samples)}
    expect(statuses(place, cancelled) == {"cancelled"}, f"{who}: the cancels left {statuses(place, cancelled)}")
    log(f"{who} cancel {figures['cli_cancel'][who]:.3f} s")
    naive = naive and who == "rxdesk"

    if who == "rxdesk":
        figures["imports"] = {"help": import_costs(["--help"]),
                              "cancel": import_costs(["appointments", "cancel", uids.pop(), "--reason", "benchmark"],
                                                     env),
                              "list": import_costs(["appointments", "list"], env)}
        log("imports of cancel: " + ", ".join(f"{name} {sec * 1000:.0f} ms"
                                              for name, sec in figures["imports"]["cancel"]["top"]))
    else:  # beside the data dir's listing, in the same table
        figures["imports"] = {"list on PostgreSQL": import_costs(["appointments", "list"], env)}

    if naive:
        # The same treatment as rxdesk's commands: a first run to warm the file cache, then as
        # many runs, each a new process.
        naive_file = copy_file(built.naive_file, work / "naive.json")
        ncmd = [sys.executable, "-m", "bench.naive", str(naive_file)]
        run_timed([*ncmd, "list"])
        naive_rows = rows_printed([*ncmd, "list"], None) + 1  # no header line
        expect(naive_rows > 1, f"the naive listing printed {naive_rows} rows")
        figures["cli_list"]["naive"] = median_of([run_timed([*ncmd, "list"]) for _ in range(runs)])
        log(f"naive list {figures['cli_list']['naive']:.3f} s")
        lean, doc_ids = lean_naive(built)
        lean_cmd = [sys.executable, "-m", "bench.naive", str(copy_file(lean, work / "naive-appointments.json"))]
        run_timed([*lean_cmd, "cancel", str(doc_ids[uids.pop()]), "benchmark"])
        figures["cli_cancel"]["naive"] = median_of(
            [run_timed([*lean_cmd, "cancel", str(doc_ids[uids.pop()]), "benchmark"]) for _ in range(runs)]
        )
        log(f"naive cancel {figures['cli_cancel']['naive']:.3f} s")

    if cli_only:
        return figures
    figures.update(worker_probe.measure(built, work, runs=runs, naive=naive, log=log, places=places))
    figures.update(badday_probe.measure(built, work, runs=runs, log=log, places=places))
    figures.update(app_figures(places, runs=runs, log=log))
    return figures


def first_screen_rows(place: Place, path: Path, count: int = 48) -> Path:
    """The cells of the rows rxdesk's overview shows first (the default listing), written for
    the framework's floor (`floor_probe`)."""
    from rxdesk.domain.times import format_local

    desk = place.desk()
    try:
        zone = desk.org().timezone
        page = desk.appointments.list_appointments(limit=count, count=False)
        rows = [[format_local(r.record.starts_at, zone), r.patient_name, r.doctor_name, r.record.status.value,
                 r.type_name, r.record.uid] for r in page.items]
    finally:
        desk.close()
    expect(len(rows) == count, f"the first screen's rows for the framework's floor: {len(rows)} of {count}")
    path.write_text(json.dumps({"columns": ["Start", "Patient", "Doctor", "Status", "Type", "UID"], "rows": rows}))
    return path


class BusyCore:
    """A process that keeps one core busy while the app's keys are measured: an agent's machine
    is seldom idle, and two cores with one taken is what the targets are held to."""

    def __enter__(self) -> BusyCore:
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *_: object) -> None:
        self.proc.kill()
        self.proc.wait()


def app_figures(places: DataDirPlaces | DatabasePlaces, *, runs: int, log: Log) -> dict[str, dict[str, Any]]:
    """The app's figures come from a separate process (its peak memory is the app's alone),
    with another process keeping one core busy. On the data dir, the framework's floor is
    measured beside them, the same way and under the same load."""
    who = places.backend
    keys = APP_FIGURES
    results: list[dict[str, Any]] = []
    floors: list[float] = []
    rows_file = first_screen_rows(places.new("app-rows"), places.work / "first-screen.json") \
        if who == "rxdesk" else None
    with BusyCore():
        for run in range(runs):
            place = places.new(f"app-{run}")
            proc = subprocess.run(
                [sys.executable, "-m", "bench.app_probe", str(place.data_dir), repr(time.time())],
                env=place.env(), capture_output=True, text=True, timeout=600, check=False,
            )
            if proc.returncode != 0:
                note = (proc.stderr.strip().splitlines() or ["app probe failed"])[-1]
                return {k: {places.key("note"): f"not measured: {note}"} for k in keys}
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            if rows_file is not None:
                floor = subprocess.run([sys.executable, "-m", "bench.floor_probe", str(rows_file), repr(time.time())],
                                       capture_output=True, text=True, timeout=600, check=True)
                floors.append(json.loads(floor.stdout.strip().splitlines()[-1])["app_floor_paint"])
    figures = {key: {who: median_of([r[key] for r in results])} for key in keys}
    if floors:
        figures["app_floor_paint"] = {who: median_of(floors)}
    log(f"{who} app " + ", ".join(f"{k}={v[who]:.3f}" for k, v in figures.items()))
    return figures
