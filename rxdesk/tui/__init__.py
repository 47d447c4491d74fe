"""The Textual app. Nothing outside this package imports Textual."""

import gc
import os
import sys

# Textual draws at most 60 frames a second: a key pressed just after a frame waited up to
# 16.7 ms for the next one before its change reached the terminal. At 120 a key is on screen
# within ~8 ms plus the work it causes. Idle costs nothing more: a frame is drawn only when
# something changed. (Read by Textual when it is first imported; an explicit setting wins.)
os.environ.setdefault("TEXTUAL_FPS", "120")

# Service calls run in threads and release the GIL at every file operation; with the default
# 5 ms switch interval the UI thread kept them waiting ~5 ms each time, which made a cancel
# (two dozen syscalls) take ~100 ms instead of ~15. Set once for the process that loads the
# app, before any app is made.
sys.setswitchinterval(0.0005)

# How long the collector may wait at most (`hold_collector`), should the app never settle (a
# problem screen, a data dir that cannot be listed).
COLLECTOR_HELD_SECONDS = 10.0


def hold_collector() -> None:
    """Let the cyclic garbage collector wait while the app starts: importing Textual and the
    app and parsing the first week made it run full passes over everything loaded so far
    before the first rows were drawn (two, ~30 ms each, at every data set). The app starts it
    again as soon as it has settled and has taken what it keeps out of its sight
    (`RxdeskApp.keep_loaded`), or after COLLECTOR_HELD_SECONDS. Called first thing by whatever
    starts the app; an app made otherwise (tests) collects throughout."""
    gc.disable()
