"""The Textual app. Nothing outside this package imports Textual."""

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
