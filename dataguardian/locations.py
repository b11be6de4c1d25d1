"""Where DataGuardian's code runs from, and where its data goes by default.

A source checkout (``manage.py`` and ``pyproject.toml`` beside the packages) keeps its data in
``<checkout>/data``. An installed package follows the XDG base directory spec:
``$XDG_DATA_HOME/dataguardian``, or ``~/.local/share/dataguardian``. ``DATAGUARDIAN_DATA_DIR``
overrides both (read in the settings).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

# The directory holding the ``dataguardian`` package: a checkout, or site-packages.
CODE_ROOT = Path(__file__).resolve().parent.parent


def source_checkout(code_root: Path = CODE_ROOT) -> Path | None:
    """The checkout the code runs from, or None when it runs as an installed package."""
    if (code_root / "manage.py").is_file() and (code_root / "pyproject.toml").is_file():
        return code_root
    return None


def user_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/dataguardian``; ``~/.local/share/dataguardian`` when the variable is
    unset, empty or relative (the spec says to ignore a relative value)."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_DATA_HOME", "")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "dataguardian"
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "share" / "dataguardian"


def default_data_dir(code_root: Path = CODE_ROOT, environ: Mapping[str, str] | None = None) -> Path:
    """The data directory when ``DATAGUARDIAN_DATA_DIR`` is not set."""
    checkout = source_checkout(code_root)
    return checkout / "data" if checkout is not None else user_data_dir(environ)
