"""The client programs an engine runs, and how a missing one is told to the operator."""

from __future__ import annotations

import glob
import os
import shutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Tool:
    """A client program: the names it goes by (the first found is used), the package that
    installs it, and directories searched besides ``PATH`` (globs, e.g. every installed
    PostgreSQL major version's ``bin``)."""

    names: tuple[str, ...]
    package: str
    purpose: str
    search_dirs: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.names[0]

    def find(self) -> str | None:
        """The path of the program, or None when this worker does not have it."""
        for pattern in self.search_dirs:
            for directory in sorted(glob.glob(pattern), reverse=True):
                for name in self.names:
                    candidate = os.path.join(directory, name)
                    if os.access(candidate, os.X_OK):
                        return candidate
        for name in self.names:
            found = shutil.which(name)
            if found:
                return found
        return None

    def missing_message(self) -> str:
        alternatives = " or ".join(self.names)
        return (
            f"{alternatives} ({self.purpose}) is not installed on this worker: install the "
            f"{self.package} package."
        )
