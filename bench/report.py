"""BENCHMARKS.md: the figures, their targets, growth from A to C, and what was missed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Metric:
    label: str
    unit: str
    target_ab: float | None = None  # the most it may be at A (and B)
    target_c: float | None = None  # at C
    growth: float | None = None  # the most C may be, as a multiple of A


METRICS: dict[str, Metric] = {
    "cli_cancel": Metric("CLI `appointments cancel`, end to end", "s", 0.2, 0.25, 1.2),
    "cli_list": Metric("CLI `appointments list` (default view), end to end", "s", 0.5),
    "cli_list_row": Metric("CLI default list, per row printed beyond start-up (`--limit` all rows against 1)", "µs",
                           10e-6, 10e-6),
    "app_first_paint": Metric("app: start to first rows painted (pilot)", "s", growth=1.2),
    "app_floor_paint": Metric("the framework's floor: a bare Textual `DataTable` of the same rows, first paint "
                              "(pilot)", "s"),
    "app_cursor": Metric("app: cursor move, key to frame painted (p95)", "s", 0.016, 0.016),
    "app_filter": Metric("app: change a filter to rows shown", "s", 0.05, 0.08),
    "app_cancel": Metric("app: `c` + reason + `enter` to row cancelled (on disk)", "s", 0.05, 0.08, 1.2),
    "app_cancel_first": Metric("app: the same, first cancel of a session (the dialog is built)", "s"),
    "app_end": Metric("app: `G` to the last row of the whole list painted", "s"),
    "app_freeze": Metric("app: longest freeze (hold j through 5,000 rows, G, filter, cancel, tick)", "s", 0.05, 0.08),
    "app_freeze_cpu": Metric("app: the same freeze in the app's own CPU time (the busy core left out)", "s"),
    "tick_idle": Metric("worker tick with nothing due, a running worker (warm)", "s", 0.15, None, 1.2),
    "tick_idle_cold": Metric("worker tick with nothing due, a worker started for it (cold, as `worker --once`)",
                             "s"),
    "tick_1000": Metric("worker tick firing 1,000 reminders to a local webhook receiver", "s", 3.0),
    "tick_week": Metric("worker tick after a week without one (a week of completions)", "s", 3.0),
    "away_day": Metric("`doctors away --rebook`: a day of 30 appointments, planned and written, end to end", "s", 1.0),
    "away_week": Metric("`doctors away --rebook`: a week of 200 appointments, planned and written, end to end", "s",
                        1.0),
    "attention": Metric("what needs attention, computed in a running app", "s", 0.1, 0.1),
    "app_memory": Metric("peak memory of the app", "MB", 150.0, 200.0, 2.0),
    "help": Metric("`rxdesk --help`", "s", 0.12),
    "driver_import": Metric("a new Python process importing its store's driver alone (data dir: none, "
                            "`python -c pass`; PostgreSQL: `python -c 'import psycopg'`)", "s"),
}
# First paint against the framework's floor (a bare Textual app with the same rows), in one run.
FLOOR_RATIO = 1.3
# PostgreSQL against the data dir, for the same work in the same run.
PG_RATIO = 1.2
PG_RATIO_METRICS = ("tick_1000", "away_week", "cli_list", "cli_list_row")
WRITES_LIMIT = 3  # store writes a tick firing 1,000 reminders may take


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "µs":
        return f"{value * 1e6:.1f} µs"
    if value < 0.1:
        return f"{value * 1000:.1f} ms"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def _ratio(a: float | None, b: float | None) -> float | None:
    return b / a if a and b is not None else None


def _header(results: dict[str, dict], *, machine: dict[str, str], date: str, runs: int, extra: dict,
            smoke: bool) -> list[str]:
    lines = ["# Benchmarks", ""]
    if smoke:
        lines += ["Smoke run (10k appointments, one run): proves the benchmark works; not a measurement.", ""]
    commit = extra.get("commit") or "an unknown commit"
    lines += [
        f"Measured on {date} at commit `{commit}`: {machine['cpu']}, {machine['memory']}, {machine['os']}, "
        f"Python {machine['python']}.",
    ]
    if extra.get("dirty"):
        lines += ["", "**The working tree had uncommitted changes: these figures are of no commit.**"]
    lines += [
        "",
        f"Each figure is the median of {runs} run(s), the same count on every side; cold is compared with cold",
        "(a process started for the one command, after a first run warmed the file cache) and warm with warm",
        "(a running worker against a naive worker that keeps TinyDB's cache). Produced by `python -m bench`;",
        "every time is taken with `RXDESK_NOW` fixed, on a private copy of the data set, with rxdesk",
        "byte-compiled as an install is. The app's figures, and the framework's floor beside them, are taken",
        "while another process keeps one of the machine's cores busy.",
        "",
        "The naive baseline (`bench/naive.py`) is TinyDB used as its documentation advises for speed: an",
        "orjson `Storage`, and `CachingMiddleware` wherever a process does more than one operation.",
        "",
        "## Data sets",
        "",
        "| set | shape | appointments | doctors | patients | events | audit | rxdesk on disk | naive file "
        "| demo build |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, res in results.items():
        st, spec = res["stats"], res["spec"]
        lines.append(
            f"| {name} | {spec.describe()} | {st['appointments']:,} | {st['doctors']} | {st['patients']:,} | "
            f"{st['events']:,} | {st['audit']:,} | {st['rxdesk_bytes'] / 2**20:.0f} MB | "
            f"{st['naive_bytes'] / 2**20:.0f} MB | {st['demo_seconds']:.1f} s |"
        )
    if extra.get("cpu_reference_ms"):
        speeds = ", ".join(f"{ms:.0f}" for ms in extra["cpu_reference_ms"])
        lines += ["", f"Machine speed during the run (a fixed pure-Python loop, before each data set and at the end; "
                      f"lower is faster): {speeds} ms. This shared VM's speed drifts through the day: compare "
                      "this loop between runs before comparing their figures, and read ratios within a run."]
    if "demo_1m_seconds" in extra:
        lines += ["", f"`rxdesk demo --appointments 1000000` (data set C's demo part) took "
                      f"{extra['demo_1m_seconds']:.1f} s (target: under a minute)."]
    databases = {name: res["pg"] for name, res in results.items() if res.get("pg")}
    if databases:
        lines += ["", "On PostgreSQL (`RXDESK_DATABASE_URL`), each data set was copied into a database with "
                      "`rxdesk store import`, on a PostgreSQL 15 server on the same machine with its durable "
                      "defaults (fsync and synchronous commit on), reached over its unix socket:", "",
                  "| set | `store import` | database size |", "|---|---|---|"]
        for name, db in databases.items():
            lines.append(f"| {name} | {db['import_seconds']:.1f} s | {db['bytes'] / 2**20:.0f} MB |")
    return lines


def _growth(results: dict[str, dict], misses: list[str]) -> list[str]:
    """Every figure at A and at C side by side: the headline (C holds ten times A's history)."""
    if "A" not in results or "C" not in results:
        return []
    a, c = results["A"]["figures"], results["C"]["figures"]
    lines = ["", "## Growth: A against C (ten times the appointments)", "",
             "rxdesk should cost about the same at C as at A; the naive file grows with everything in it.", "",
             "| what | rxdesk A | rxdesk C | C ÷ A | target | met | naive A | naive C | naive C ÷ A |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key, m in METRICS.items():
        va, vc = a.get(key, {}).get("rxdesk"), c.get(key, {}).get("rxdesk")
        na, nc = a.get(key, {}).get("naive"), c.get(key, {}).get("naive")
        r, nr = _ratio(va, vc), _ratio(na, nc)
        goal, met = ("–", "–") if m.growth is None else (f"≤ {m.growth:g}×", "–")
        if m.growth is not None and r is not None:
            met = "yes" if r <= m.growth else "**no**"
            if r > m.growth:
                misses.append(f"C ÷ A: {m.label} is {r:.2f}× (target ≤ {m.growth:g}×)")
        shown = f"{r:.2f}×" if r is not None else "–"
        naive = f"{nr:.1f}×" if nr is not None else "–"
        lines.append(f"| {m.label} | {_fmt(va, m.unit)} | {_fmt(vc, m.unit)} | {shown} | {goal} | {met} | "
                     f"{_fmt(na, m.unit)} | {_fmt(nc, m.unit)} | {naive} |")
    return lines


def _set_table(name: str, res: dict, on_pg: bool, misses: list[str]) -> list[str]:
    figs = res["figures"]
    lines = ["", f"## {name}: {res['spec'].describe()}", "",
             "| what | rxdesk (data dir) | rxdesk (PostgreSQL) | PostgreSQL ÷ data dir | naive | naive ÷ rxdesk "
             "| target | met |",
             "|---|---|---|---|---|---|---|---|"]
    floor = figs.get("app_floor_paint", {}).get("rxdesk")
    for key, m in METRICS.items():
        target = m.target_c if name == "C" else m.target_ab
        fig = figs.get(key, {})
        ours, naive, pg = fig.get("rxdesk"), fig.get("naive"), fig.get("pg")
        goals, oks = [], []
        if target is not None:
            goals.append(f"≤ {_fmt(target, m.unit)}")
            if ours is not None:
                oks.append(ours <= target)
                if ours > target:
                    misses.append(f"{name}: {m.label} is {_fmt(ours, m.unit)} (target ≤ {_fmt(target, m.unit)})")
            else:
                misses.append(f"{name}: {m.label} was not measured ({fig.get('note') or 'no figure'})")
            if pg is not None and pg > target:
                misses.append(f"{name} on PostgreSQL: {m.label} is {_fmt(pg, m.unit)} "
                              f"(target ≤ {_fmt(target, m.unit)})")
        if key == "app_first_paint":
            goals.append(f"≤ {FLOOR_RATIO:g}× the floor")
            if ours is not None and floor:
                oks.append(ours <= FLOOR_RATIO * floor)
                if ours > FLOOR_RATIO * floor:
                    misses.append(f"{name}: {m.label} is {ours / floor:.2f}× the framework's floor "
                                  f"({_fmt(ours, m.unit)} against {_fmt(floor, m.unit)}; target ≤ {FLOOR_RATIO:g}×)")
        pg_ratio = _ratio(ours, pg)
        if key in PG_RATIO_METRICS:
            goals.append(f"PostgreSQL ≤ {PG_RATIO:g}×")
            if pg_ratio is not None and pg_ratio > PG_RATIO:
                misses.append(f"{name}: {m.label} on PostgreSQL is {pg_ratio:.2f}× the data dir's "
                              f"({_fmt(pg, m.unit)} against {_fmt(ours, m.unit)}; target ≤ {PG_RATIO:g}×)")
            if pg_ratio is not None:
                oks.append(pg_ratio <= PG_RATIO)
        if key == "tick_1000":
            goals.append(f"≤ {WRITES_LIMIT} writes")
            if fig.get("writes") is not None:
                oks.append(fig["writes"] <= WRITES_LIMIT)
        shown = _fmt(ours, m.unit)
        if fig.get("writes") is not None and key in ("tick_1000", "tick_week"):
            shown += f", {fig['writes']} write{'s' if fig['writes'] != 1 else ''}"
        if fig.get("note"):
            shown = f"{shown} ({fig['note']})" if ours is not None else fig["note"]
        pg_shown = _fmt(pg, m.unit) if on_pg or pg is not None else "–"
        if fig.get("pg_writes") is not None and key in ("tick_1000", "tick_week"):
            pg_shown += f", {fig['pg_writes']} write{'s' if fig['pg_writes'] != 1 else ''}"
        if fig.get("pg_note") and pg is None:
            pg_shown = fig["pg_note"]
        lead = f"{naive / ours:.1f}×" if ours and naive else "–"
        met = "–" if not oks else ("yes" if all(oks) else "**no**")
        lines.append(f"| {m.label} | {shown} | {pg_shown} | {f'{pg_ratio:.2f}×' if pg_ratio else '–'} | "
                     f"{_fmt(naive, m.unit)} | {lead} | {', '.join(goals) or '–'} | {met} |")
    return lines


def render(results: dict[str, dict], *, machine: dict[str, str], date: str, runs: int, extra: dict, smoke: bool) -> str:
    lines = _header(results, machine=machine, date=date, runs=runs, extra=extra, smoke=smoke)
    misses: list[str] = []
    lines += _growth(results, misses)
    databases = {name for name, res in results.items() if res.get("pg")}
    for name, res in results.items():
        lines += _set_table(name, res, name in databases, misses)
    for name, res in results.items():
        imports = res["figures"].get("imports")
        if not imports:
            continue
        lines += ["", f"## {name}: where start-up goes (`python -X importtime`)", "",
                  "| command | importing, total | the costliest packages (their modules' own times) |",
                  "|---|---|---|"]
        for command, found in imports.items():
            top = ", ".join(f"{package} {seconds * 1000:.0f} ms" for package, seconds in found["top"])
            argv, _, store = command.partition(" on ")  # "list on PostgreSQL": measured on that store
            shown = "`rxdesk --help`" if argv == "help" else f"`rxdesk appointments {argv}`"
            shown += f" on {store}" if store else ""
            lines.append(f"| {shown} | {_fmt(found['total'], 's')} | {top} |")
    lines += ["", "## Targets missed", ""]
    lines += [f"- {m}" for m in misses] or ["None: every target above is met."]
    return "\n".join(lines) + "\n"
