"""The Textual app. Nothing outside this package imports Textual."""

import os

# Textual draws at most 60 frames a second: a key pressed just after a frame waited up to
# 16.7 ms for the next one before its change reached the terminal. At 120 a key is on screen
# within ~8 ms plus the work it causes. Idle costs nothing more: a frame is drawn only when
# something changed. (Read by Textual when it is first imported; an explicit setting wins.)
os.environ.setdefault("TEXTUAL_FPS", "120")
