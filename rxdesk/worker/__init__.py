"""The maintenance manager: plain Python, no Textual.

Interface (used by the app and by `rxdesk worker`)::

    from rxdesk.worker.tick import Maintenance, TickReport

    maintenance = Maintenance(desk, owner="app:alice")   # owner names this runner in leases/logs
    report: TickReport = maintenance.tick()              # one tick at desk.clock.now()
    report.summary()  -> "09:31 · 2 holds expired · 14 reminders · 16 webhooks delivered"

`tick()` expires overdue holds, fires due reminders (one event per recipient, with its
ReminderSent row in the same write), dispatches email/SMS and delivers due webhook attempts.
It raises only RxdeskError subclasses for expected trouble (e.g. a corrupt data file).
"""
