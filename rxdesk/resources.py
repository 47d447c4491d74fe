"""Where the shipped files live, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def styles_dir() -> Path:
    """The stylesheets: `rxdesk/styles/` in an installed package (setup.py ships the top-level
    `styles/` folder there), else the checkout's top-level `styles/`."""
    installed = _HERE / "styles"
    if (installed / "app.tcss").is_file():
        return installed
    return _HERE.parent / "styles"


def stylesheet(name: str) -> str:
    """The path of `styles/NAME.tcss`."""
    return str(styles_dir() / f"{name}.tcss")
