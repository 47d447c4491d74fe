"""Where the shipped files live, installed or in a source checkout."""

from __future__ import annotations

from pathlib import Path


def styles_dir() -> Path:
    """The top-level `styles/` folder: shipped as the `rxdesk.styles` package when installed."""
    try:
        from importlib.resources import files

        path = Path(str(files("rxdesk.styles")))
        if (path / "app.tcss").is_file():
            return path
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "styles"
