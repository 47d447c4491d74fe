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
    # The app's own stylesheets and those its screens and dialogs name (read when first shown).
    check = (
        "import importlib, pathlib, pkgutil, rxdesk, rxdesk.tui.modals, rxdesk.tui.screens\n"
        "from textual.screen import Screen\n"
        "from rxdesk.tui.app import stylesheets\n"
        "for package in (rxdesk.tui.screens, rxdesk.tui.modals):\n"
        "    for found in pkgutil.iter_modules(package.__path__):\n"
        "        importlib.import_module(f'{package.__name__}.{found.name}')\n"
        "def every(cls):\n"
        "    for sub in cls.__subclasses__():\n"
        "        yield sub\n"
        "        yield from every(sub)\n"
        "named = [s.CSS_PATH for s in every(Screen) if s.__module__.startswith('rxdesk.') and s.CSS_PATH]\n"
        "sheets = {pathlib.Path(p) for p in [*stylesheets(), *named]}\n"
        "assert sheets and all(p.is_file() for p in sheets), sheets\n"
        "home = pathlib.Path(rxdesk.__file__).parent\n"
        "assert all(home in p.parents for p in sheets), (home, sheets)\n"
        "print(len(sheets))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    ran = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert int(ran.stdout) == len(list((ROOT / "styles").glob("*.tcss")))
