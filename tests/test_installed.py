"""The package as pip installs it, away from the source checkout: the app finds its styles and
the console script answers. (The other tests import rxdesk from the checkout.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_an_installed_copy_finds_every_stylesheet(tmp_path: Path) -> None:
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--target", str(target), str(ROOT)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    check = (
        "import rxdesk, pathlib\n"
        "from rxdesk.tui.app import stylesheets\n"
        "sheets = [pathlib.Path(p) for p in stylesheets()]\n"
        "assert sheets and all(p.is_file() for p in sheets), sheets\n"
        "assert pathlib.Path(rxdesk.__file__).parent in sheets[0].parents, (rxdesk.__file__, sheets[0])\n"
        "print(len(sheets))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    ran = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert int(ran.stdout) == len(list((ROOT / "styles").glob("*.tcss")))
