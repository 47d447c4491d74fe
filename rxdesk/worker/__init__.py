"""The worker: the process that runs maintenance ticks. Plain Python, no Textual.

What a tick does is a service (`rxdesk.services.maintenance`); this package only runs it:

- `headless.run`: `rxdesk worker`, a tick every minute on the minute (or once), one log line a
  tick, SIGTERM and SIGINT let the running tick finish;
- `process.tick_in_child`: the app's tick, in a child process so the screen never waits on it.
"""
