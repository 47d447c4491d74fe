"""Each figure of the benchmark, measured for rxdesk and, where it has one, the naive baseline."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import badday_probe, worker_probe
from bench.datasets import NOW, Built
from bench.measure import copy_file, median_of, run_timed, rxdesk_cmd
from bench.places import DatabasePlaces, DataDirPlaces, Place

Log = Callable[[str], None]
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


def measure_all(built: Built, work: Path, *, runs: int, naive: bool, log: Log,
                places: DataDirPlaces | DatabasePlaces | None = None) -> dict[str, dict[str, Any]]:
    """Every figure on one kind of store: data dirs (the default, with the naive baseline and
    `--help`), or PostgreSQL databases (`places`); keyed by `places.backend`."""
    places = places or DataDirPlaces(built, work)
    who = places.backend
    figures: dict[str, dict[str, Any]] = {}
    place = places.new("cli")
    env = place.env()
    cmd = rxdesk_cmd()
    uids = upcoming_confirmed(place, 40 + runs * 4)

    if who == "rxdesk":
        run_timed([*cmd, "--help"])  # warm the file cache like any second run
        figures["help"] = {who: median_of([run_timed([*cmd, "--help"]) for _ in range(runs)])}
        log(f"--help {figures['help'][who]:.3f} s")

    run_timed([*cmd, "appointments", "list"], env)
    figures["cli_list"] = {who: median_of([run_timed([*cmd, "appointments", "list"], env) for _ in range(runs)])}
    log(f"{who} list {figures['cli_list'][who]:.3f} s")

    samples = [run_timed([*cmd, "appointments", "cancel", uids.pop(), "--reason", "benchmark"], env)
               for _ in range(runs)]
    figures["cli_cancel"] = {who: median_of(samples)}
    log(f"{who} cancel {figures['cli_cancel'][who]:.3f} s")
    naive = naive and who == "rxdesk"

    if naive:
        naive_file = copy_file(built.naive_file, work / "naive.json")
        ncmd = [sys.executable, "-m", "bench.naive", str(naive_file)]
        naive_runs = runs if built.stats["appointments"] <= 200_000 else 1
        figures["cli_list"]["naive"] = median_of([run_timed([*ncmd, "list"]) for _ in range(naive_runs)])
        log(f"naive list {figures['cli_list']['naive']:.3f} s")
        figures["cli_cancel"]["naive"] = median_of(
            [run_timed([*ncmd, "cancel", uids.pop(), "benchmark"]) for _ in range(naive_runs)]
        )
        log(f"naive cancel {figures['cli_cancel']['naive']:.3f} s")
        figures["cli_cancel"]["naive_runs"] = naive_runs

    figures.update(worker_probe.measure(built, work, runs=runs, naive=naive, log=log, places=places))
    figures.update(badday_probe.measure(built, work, runs=runs, log=log, places=places))
    figures.update(app_figures(places, runs=runs, log=log))
    return figures


def app_figures(places: DataDirPlaces | DatabasePlaces, *, runs: int, log: Log) -> dict[str, dict[str, Any]]:
    """The app's figures come from a separate process (its peak memory is the app's alone)."""
    who = places.backend
    keys = APP_FIGURES
    results: list[dict[str, Any]] = []
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
    figures = {key: {who: median_of([r[key] for r in results])} for key in keys}
    log(f"{who} app " + ", ".join(f"{k}={v[who]:.3f}" for k, v in figures.items()))
    return figures
