"""The benchmark runs end to end on a 10k data set (that it runs; no timing is asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO
from tests.pgfixtures import PgServer


def test_the_benchmark_runs_on_a_small_data_set(tmp_path: Path, pg_server: PgServer) -> None:
    out = tmp_path / "bench.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--naive", "yes", "--data", str(tmp_path / "data"), "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "RXDESK_BENCH_DATABASE_URL": pg_server.admin_url},  # the PostgreSQL column too
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = out.read_text()
    for row in ("CLI `appointments cancel`, end to end", "CLI default list, per row printed beyond start-up",
                "app: start to first rows painted",
                "worker tick with nothing due", "worker tick after a week without one", "peak memory of the app",
                "`rxdesk --help`", "`doctors away --rebook`: a day of 30", "`doctors away --rebook`: a week of 200",
                "what needs attention, computed in a running app"):
        line = next(line for line in report.splitlines() if line.startswith(f"| {row}"))
        assert "not measured" not in line, line
        if row != "`rxdesk --help`":  # the same on both stores
            assert line.split(" | ")[2] != "–", line
    cancel = next(line for line in report.splitlines() if line.startswith("| CLI `appointments cancel`"))
    assert cancel.split(" | ")[3] != "–", cancel  # the naive update, measured in the same run
    assert "where start-up goes (`python -X importtime`)" in report
    assert "## Targets missed" in report
