"""What a verification finds in a restored tree."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from datasources.engines.verification import Check, Inspection


def inspect_tree(config: dict[str, Any], assertions: list[str]) -> Inspection:
    """Every regular file below the restored tree counted and read to its end."""
    root = Path(config["source_path"])
    files = 0
    unreadable: list[str] = []
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            if path.is_symlink() or not path.is_file():
                continue
            files += 1
            try:
                with path.open("rb") as handle:
                    while handle.read(1024 * 1024):
                        pass
            except OSError:
                unreadable.append(str(path.relative_to(root)))
    readable = Check(
        "tree_readable",
        not unreadable,
        "Every restored file reads to its end."
        if not unreadable
        else f"{len(unreadable)} files could not be read: {', '.join(unreadable[:10])}",
    )
    return Inspection(files=files, checks=[readable])
