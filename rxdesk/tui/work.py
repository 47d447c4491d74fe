"""Running service calls off the UI thread, and turning their refusals into messages.

Every service call from a screen goes through `call_service`: it runs in a thread worker so a
slow disk never freezes the app, a newer call in the same group supersedes an older one, an
`RxdeskError` becomes a one-line notification (or the caller's own handler), a `StoreError`
opens the problem screen, and anything unexpected is logged for support, never shown as a
traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from textual.dom import DOMNode
from textual.worker import Worker, get_current_worker

from rxdesk.crashlog import log_crash
from rxdesk.domain.errors import RxdeskError, StoreError, StoreUnavailable
from rxdesk.tui.context import desk_app

T = TypeVar("T")


def call_service(
    node: DOMNode,
    call: Callable[[], T],
    *,
    done: Callable[[T], Any],
    group: str,
    failed: Callable[[RxdeskError], Any] | None = None,
    exclusive: bool = True,
) -> Worker[None]:
    app = desk_app(node)

    def deliver(callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        worker = get_current_worker()
        if worker.is_cancelled:
            return

        def unless_superseded() -> None:
            # Asked again on the app's thread, where a newer call cancels this one: a result
            # that lost the race to its successor's must not be shown after it.
            if not worker.is_cancelled:
                callback(*args, **kwargs)

        try:
            app.call_from_thread(unless_superseded)
        except RuntimeError:  # the app closed while the call was running
            pass

    def job() -> None:
        try:
            result = call()
        except StoreUnavailable as exc:  # the database server, for now: the app carries on
            deliver(app.notify, str(exc), severity="error", title="Database")
        except StoreError as exc:
            deliver(app.show_problem, str(exc))
        except RxdeskError as exc:
            if failed is not None:
                deliver(failed, exc)
            else:
                deliver(app.notify, str(exc), severity="error", title="Refused")
        except Exception as exc:  # noqa: BLE001 - the agent gets one line, support the log
            where = log_crash(app.desk.settings.data_dir)
            deliver(
                app.notify,
                f"Something went wrong ({type(exc).__name__}); details are in {where}",
                severity="error",
                title="Internal error",
            )
        else:
            deliver(done, result)

    return node.run_worker(job, thread=True, exclusive=exclusive, group=group, exit_on_error=False)
