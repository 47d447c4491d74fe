"""The framework's floor: a bare Textual app showing the rows rxdesk's first screen shows, in a
stock `DataTable`, its first paint measured as `app_probe` measures rxdesk's (Textual's pilot,
the same terminal size, from process start to the frame that first draws a row).

    python -m bench.floor_probe ROWS_JSON STARTED_AT_EPOCH

ROWS_JSON holds `{"columns": [...], "rows": [[...], ...]}`: the cells of the rows that fill
rxdesk's table at that size, as it shows them (the bench writes it, untimed). Nothing of rxdesk
is imported: what this costs, any Textual app showing those rows pays.
"""

from __future__ import annotations

import time

_IMPORTED_AT = time.time()

import asyncio  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

SIZE = (160, 48)  # the terminal app_probe runs rxdesk in


async def probe(rows_file: Path, started: float) -> dict[str, float]:
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable

    first_frame: list[float] = []
    render_line = DataTable.render_line

    def drawing(table: Any, y: int) -> Any:
        if not first_frame and table.row_count:
            first_frame.append(0.0)
            table.call_after_refresh(lambda: first_frame.__setitem__(0, time.time()))
        return render_line(table, y)

    DataTable.render_line = drawing  # type: ignore[method-assign]

    class Floor(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable(cursor_type="row")

        def on_mount(self) -> None:
            shown = json.loads(rows_file.read_text())
            table = self.query_one(DataTable)
            table.add_columns(*shown["columns"])
            table.add_rows(shown["rows"])

    app = Floor()
    async with app.run_test(size=SIZE):
        deadline = time.perf_counter() + 60
        while not (first_frame and first_frame[0] > 0):
            if time.perf_counter() > deadline:
                raise TimeoutError("the bare app painted no row in time")
            await asyncio.sleep(0)
    return {"app_floor_paint": first_frame[0] - started}


def main() -> int:
    rows_file = Path(sys.argv[1])
    started = float(sys.argv[2]) if len(sys.argv) > 2 else _IMPORTED_AT
    print(json.dumps(asyncio.run(probe(rows_file, started))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
