"""The restore recipes of docs/RESTORE.md, run as written against what a backup stored."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The shell command that decompresses a stream of each compression, for the recipes' DECOMPRESS.
DECOMPRESS = {"zstd": "zstd -dc", "gzip": "gzip -dc", "lz4": "lz4 -dc", "none": "cat"}


def restore_recipe(name: str) -> str:
    """The shell block of docs/RESTORE.md marked ``<!-- restore:name -->``, as written."""
    text = (ROOT / "docs" / "RESTORE.md").read_text()
    match = re.search(rf"<!-- restore:{re.escape(name)} -->\s*```sh\n(.*?)```", text, re.S)
    assert match, f"docs/RESTORE.md has no recipe {name}"
    return match.group(1)


def run_recipe(name: str, directory: Path, *, stdin: str | None = None, **env: str) -> None:
    """Run a RESTORE.md recipe in ``directory`` with bash -e -o pipefail; ``stdin`` answers
    what it asks (a password)."""
    script = "set -euo pipefail\n" + restore_recipe(name)
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=directory,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(directory.parent), **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
