"""Each figure of the benchmark, measured for rxdesk and, where it has one, the naive baseline."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.datasets import NOW, Built
from bench.measure import bench_env, copy_file, median_of, run_timed, rxdesk_cmd, snapshot_dir

Log = Callable[[str], None]
APP_FIGURES = ("app_first_paint", "app_cursor", "app_filter", "app_cancel", "app_cancel_first", "app_end", "app_freeze",
               "app_freeze_cpu", "app_memory")


def upcoming_confirmed(data_dir: Path, count: int) -> list[str]:
    """uids of the next `count` confirmed appointments (things an agent would cancel)."""
    from rxdesk.domain.queries import AppointmentQuery
    from rxdesk.store import TinyStore

    page = TinyStore(data_dir).read().appointments.search(
        AppointmentQuery(statuses=frozenset({"confirmed"}), starts_from=NOW, limit=count, count=False)
    )
    return [row.uid for row in page.items]


def measure_all(built: Built, work: Path, *, runs: int, naive: bool, log: Log) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {}
    data = snapshot_dir(built.data_dir, work / "rxdesk")
    env = bench_env(data)
    cmd = rxdesk_cmd()
    uids = upcoming_confirmed(data, 40 + runs * 4)

    run_timed([*cmd, "--help"])  # warm the file cache like any second run
    figures["help"] = {"rxdesk": median_of([run_timed([*cmd, "--help"]) for _ in range(runs)])}
    log(f"--help {figures['help']['rxdesk']:.3f} s")

    run_timed([*cmd, "appointments", "list"], env)
    figures["cli_list"] = {"rxdesk": median_of([run_timed([*cmd, "appointments", "list"], env) for _ in range(runs)])}
    log(f"list {figures['cli_list']['rxdesk']:.3f} s")

    samples = [run_timed([*cmd, "appointments", "cancel", uids.pop(), "--reason", "benchmark"], env)
               for _ in range(runs)]
    figures["cli_cancel"] = {"rxdesk": median_of(samples)}
    log(f"cancel {figures['cli_cancel']['rxdesk']:.3f} s")

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

    figures.update(worker_figures(built, work, runs=runs, naive=naive, log=log))
    from bench import badday_probe

    figures.update(badday_probe.measure(built, work, runs=runs, log=log))
    figures.update(app_figures(data, work, runs=runs, uids=uids, log=log))
    return figures


def worker_figures(built: Built, work: Path, *, runs: int, naive: bool, log: Log) -> dict[str, dict[str, Any]]:
    try:
        from bench import worker_probe
    except ImportError as exc:  # the worker is not there yet
        return {key: {"note": f"not measured: {exc}"} for key in ("tick_idle", "tick_1000", "tick_week")}
    return worker_probe.measure(built, work, runs=runs, naive=naive, log=log)


def app_figures(data: Path, work: Path, *, runs: int, uids: list[str], log: Log) -> dict[str, dict[str, Any]]:
    """The app's figures come from a separate process (its peak memory is the app's alone)."""
    results: list[dict[str, Any]] = []
    for run in range(runs):
        copy = snapshot_dir(data, work / f"app-{run}")
        proc = subprocess.run(
            [sys.executable, "-m", "bench.app_probe", str(copy), repr(time.time())],
            env=bench_env(copy), capture_output=True, text=True, timeout=600,
        )
        if proc.returncode != 0:
            note = (proc.stderr.strip().splitlines() or ["app probe failed"])[-1]
            return {k: {"note": f"not measured: {note}"} for k in APP_FIGURES}
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    figures = {}
    for key in APP_FIGURES:
        figures[key] = {"rxdesk": median_of([r[key] for r in results])}
    log("app " + ", ".join(f"{k}={v['rxdesk']:.3f}" for k, v in figures.items()))
    return figures
