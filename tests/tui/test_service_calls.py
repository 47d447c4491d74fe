"""Service calls off the UI thread: a newer call of a group supersedes an older one, even when
the older one's result is already on its way to the screen."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from rxdesk.services import Desk
from rxdesk.tui.work import call_service
from tests.helpers import WAIT_LIMIT
from tests.tui.conftest import make_app, settle, wait_until


async def test_a_superseded_calls_result_is_not_shown_after_the_newer_calls(clinic: Desk) -> None:
    app = make_app(clinic)
    shown: list[str] = []
    handing_over = threading.Event()  # the older call has its result and is about to hand it over
    go_on = threading.Event()
    handed = threading.Event()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        to_app = app.call_from_thread

        def slow_hand_over(callback: Any, *args: Any, **kwargs: Any) -> Any:
            # The older call's thread is preempted between its result and the hand-over.
            if threading.current_thread() is older_thread:
                handing_over.set()
                assert go_on.wait(WAIT_LIMIT)
                try:
                    return to_app(callback, *args, **kwargs)
                finally:
                    handed.set()
            return to_app(callback, *args, **kwargs)

        app.call_from_thread = slow_hand_over  # type: ignore[method-assign]
        older_thread: threading.Thread | None = None

        def older() -> str:
            nonlocal older_thread
            older_thread = threading.current_thread()
            return "older"

        call_service(app.screen, older, done=shown.append, group="probe")
        # The older call's worker holds its thread, so the app's own wait for workers can't be used.
        assert await asyncio.to_thread(handing_over.wait, WAIT_LIMIT), "the older call's result"
        call_service(app.screen, lambda: "newer", done=shown.append, group="probe")
        await wait_until(pilot, lambda: shown == ["newer"], what="the newer call's result")
        go_on.set()
        assert await asyncio.to_thread(handed.wait, WAIT_LIMIT), "the older call's hand-over"
        await pilot.pause()
        assert shown == ["newer"]
