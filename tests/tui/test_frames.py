"""The app draws up to 120 frames a second, so a key reaches the screen within ~8 ms."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import REPO


def test_the_app_asks_textual_for_120_frames_a_second() -> None:
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    code = "import rxdesk.tui.app, textual.constants as c; print(c.MAX_FPS)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "120"
