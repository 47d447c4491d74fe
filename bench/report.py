"""BENCHMARKS.md: the figures, their targets, the ratios, and what was missed."""

from __future__ import annotations

from typing import Any

# key: (label, unit, target for A and B, target for C, whether C must stay within 2x of A)
METRICS: dict[str, tuple[str, str, float | None, float | None, bool]] = {
    "cli_cancel": ("CLI `appointments cancel`, end to end", "s", 0.2, 0.25, True),
    "cli_list": ("CLI `appointments list` (default view), end to end", "s", 0.5, None, True),
    "cli_list_row": ("CLI default list, per row printed beyond start-up (`--limit` all rows against 1)", "µs",
                     10e-6, 10e-6, False),
    "app_first_paint": ("app: start to first rows painted (pilot)", "s", 0.6, 0.8, False),
    "app_cursor": ("app: cursor move, key to frame painted (p95)", "s", 0.016, 0.016, False),
    "app_filter": ("app: change a filter to rows shown", "s", 0.05, 0.08, False),
    "app_cancel": ("app: `c` + reason + `enter` to row cancelled (on disk)", "s", 0.05, 0.08, False),
    "app_cancel_first": ("app: the same, first cancel of a session (the dialog is built)", "s", None, None, False),
    "app_end": ("app: `G` to the last row of the whole list painted", "s", None, None, False),
    "app_freeze": ("app: longest freeze (hold j through 5,000 rows, G, filter, cancel, tick)", "s", 0.05, 0.08, False),
    "app_freeze_cpu": ("app: the same freeze in the app's own CPU time (a busy machine left out)", "s", None, None,
                       False),
    "tick_idle": ("worker tick with nothing due", "s", 0.15, None, False),
    "tick_1000": ("worker tick firing 1,000 reminders to a local webhook receiver", "s", 3.0, None, False),
    "tick_week": ("worker tick after a week without one (a week of completions)", "s", 3.0, None, False),
    "away_day": ("`doctors away --rebook`: a day of 30 appointments, planned and written, end to end", "s", 1.0,
                 None, False),
    "away_week": ("`doctors away --rebook`: a week of 200 appointments, planned and written, end to end", "s",
                  1.0, None, False),
    "attention": ("what needs attention, computed in a running app", "s", 0.1, 0.1, False),
    "app_memory": ("peak memory of the app", "MB", 150.0, 250.0, False),
    "help": ("`rxdesk --help`", "s", 0.12, None, False),
}
# The CLI cancel's lead over the naive update (bench/naive.py), required of data set A.
NAIVE_LEAD = 7


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


def render(results: dict[str, dict], *, machine: dict[str, str], date: str, runs: int, extra: dict, smoke: bool) -> str:
    lines = ["# Benchmarks", ""]
    if smoke:
        lines += ["Smoke run (10k appointments, one run): proves the benchmark works; not a measurement.", ""]
    lines += [
        f"Measured on {date}: {machine['cpu']}, {machine['memory']}, {machine['os']}, Python {machine['python']}.",
        f"Each figure is the median of {runs} run(s). Produced by `python -m bench`; every time is taken with",
        "`RXDESK_NOW` fixed, on a private copy of the data set, with rxdesk byte-compiled as an install is.",
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
                      "this loop between runs before comparing their figures."]
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

    misses: list[str] = []
    for name, res in results.items():
        figs = res["figures"]
        lines += ["", f"## {name}: {res['spec'].describe()}", "",
                  "| what | rxdesk (data dir) | rxdesk (PostgreSQL) | naive | naive ÷ rxdesk | target | met |",
                  "|---|---|---|---|---|---|---|"]
        for key, (label, unit, target_ab, target_c, _) in METRICS.items():
            target = target_c if name == "C" else target_ab
            fig = figs.get(key, {})
            ours, naive = fig.get("rxdesk"), fig.get("naive")
            on_pg = fig.get("pg")
            pg_shown = _fmt(on_pg, unit) if name in databases or on_pg is not None else "–"
            if key in ("tick_1000", "tick_week") and fig.get("pg_writes") is not None:
                pg_shown += f", {fig['pg_writes']} write{'s' if fig['pg_writes'] != 1 else ''}"
            if fig.get("pg_note") and on_pg is None:
                pg_shown = fig["pg_note"]
            if on_pg is not None and target is not None and on_pg > target and name in ("A", "B"):
                misses.append(f"{name} on PostgreSQL: {label} is {_fmt(on_pg, unit)} (target ≤ {_fmt(target, unit)})")
            ratio = f"{naive / ours:.0f}×" if ours and naive else "–"
            goal = "–" if target is None else f"≤ {_fmt(target, unit)}"
            if key == "cli_cancel" and name == "A":
                goal += f", ≥ {NAIVE_LEAD}× naive"
            if key == "tick_1000":
                goal += ", ≤ 3 writes"
            met = "–"
            if ours is not None and target is not None:
                ok = ours <= target
                if key == "cli_cancel" and name == "A":
                    ok = ok and naive is not None and naive / ours >= NAIVE_LEAD
                if key == "tick_1000" and fig.get("writes") is not None:
                    ok = ok and fig["writes"] <= 3
                met = "yes" if ok else "**no**"
                if not ok:
                    misses.append(f"{name}: {label} is {_fmt(ours, unit)} (target {goal})")
            note = fig.get("note")
            if ours is None and target is not None:
                misses.append(f"{name}: {label} was not measured ({note or 'no figure'})")
            shown = _fmt(ours, unit)
            if key == "tick_1000" and fig.get("writes") is not None:
                shown += f", {fig['writes']} writes"
            if note:
                shown = f"{shown} ({note})" if ours is not None else note
            lines.append(f"| {label} | {shown} | {pg_shown} | {_fmt(naive, unit)} | {ratio} | {goal} | {met} |")

    def ratio_table(other: str, limit: float, only_c: bool) -> None:
        if "A" not in results or other not in results:
            return
        a, o = results["A"]["figures"], results[other]["figures"]
        lines.extend(["", f"## {other} ÷ A (target ≤ {limit:g}×)", "",
                      "| what | A | " + other + " | ratio | met |", "|---|---|---|---|---|"])
        for key, (label, unit, _, _, c_rule) in METRICS.items():
            if only_c and not c_rule:
                continue
            va, vo = a.get(key, {}).get("rxdesk"), o.get(key, {}).get("rxdesk")
            if va is None or vo is None:
                lines.append(f"| {label} | {_fmt(va, unit)} | {_fmt(vo, unit)} | – | – |")
                continue
            r = vo / va if va else float("inf")
            ok = r <= limit
            if not ok:
                misses.append(f"{other} vs A: {label} is {r:.2f}× (target ≤ {limit:g}×)")
            lines.append(f"| {label} | {_fmt(va, unit)} | {_fmt(vo, unit)} | {r:.2f}× | {'yes' if ok else '**no**'} |")

    for name, res in results.items():
        imports = res["figures"].get("imports")
        if not imports:
            continue
        lines += ["", f"## {name}: where start-up goes (`python -X importtime`)", "",
                  "| command | importing, total | the costliest packages (their modules' own times) |",
                  "|---|---|---|"]
        for command, found in imports.items():
            top = ", ".join(f"{package} {seconds * 1000:.0f} ms" for package, seconds in found["top"])
            shown = "`rxdesk --help`" if command == "help" else f"`rxdesk appointments {command}`"
            lines.append(f"| {shown} | {_fmt(found['total'], 's')} | {top} |")

    ratio_table("B", 1.5, False)
    ratio_table("C", 2.0, True)
    lines += ["", "## Targets missed", ""]
    lines += [f"- {m}" for m in misses] or ["None: every target above is met."]
    return "\n".join(lines) + "\n"
