"""Timing helpers: end-to-end commands and in-process calls, medians of several runs."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.datasets import NOW_TEXT

VENV_BIN = Path(sys.executable).parent


def rxdesk_cmd() -> list[str]:
    exe = VENV_BIN / "rxdesk"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rxdesk"]


def bench_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"RXDESK_DATA_DIR": str(data_dir), "RXDESK_NOW": NOW_TEXT, "RXDESK_AGENT": "bench"})
    return env


def run_timed(argv: Sequence[str], env: dict[str, str] | None = None, *, check: bool = True) -> float:
    """Wall time of a whole command, process start included."""
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}... failed: {result.stderr.strip()[:300]}")
    return elapsed


def median_of(samples: list[float]) -> float:
    return statistics.median(samples)


def time_call(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def snapshot_dir(source: Path, target: Path) -> Path:
    """A private copy of an rxdesk data dir in no time: segment files are never modified in
    place, so hard links are a safe copy (a write makes new files and renames the manifest)."""
    if target.exists():
        shutil.rmtree(target)
    subprocess.run(["cp", "-al", str(source), str(target)], check=True)
    return target


def copy_file(source: Path, target: Path) -> Path:
    # The naive baseline writes its one file in place: it needs a real copy.
    shutil.copyfile(source, target)
    return target


class ProbeDidNothing(RuntimeError):
    """A probe timed something that did not do the work its figure names."""


def expect(done: bool, what: str) -> None:
    """Stop the run when a probe's work did not happen: a figure of nothing is worse than none."""
    if not done:
        raise ProbeDidNothing(f"the benchmark measured nothing real: {what}")
