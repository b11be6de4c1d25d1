"""Stand-in executables for client tools this machine cannot run (a database's dump and restore
programs): small Python scripts put on ``PATH`` that record how they were started and emit or
consume bytes like the real tool.

Each stand-in appends one JSON line per run to its log: ``argv``, the whole environment, and,
for every argument starting with one of ``file_flags`` (``--config=``), that file's content
and permission bits, read while the tool runs (the caller removes the file afterwards). A run
whose argv or environment holds one of ``secrets`` writes ``secret leaked`` on stderr and exits
2 without doing anything else. Otherwise it answers ``--version`` with ``version``, else copies
``emit`` to stdout and/or stdin to ``consume_to``, writes ``stderr``, and exits ``exit_code``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_SCRIPT = """#!{python}
import json, os, stat, sys

spec = json.load(open({spec!r}))
argv = sys.argv
record = {{"argv": argv, "env": dict(os.environ), "files": {{}}}}
for arg in argv[1:]:
    for flag in spec["file_flags"]:
        if arg.startswith(flag):
            path = arg[len(flag):]
            record["files"][flag] = {{
                "path": path,
                "content": open(path, encoding="utf-8").read(),
                "mode": stat.S_IMODE(os.stat(path).st_mode),
            }}
with open(spec["log"], "a", encoding="utf-8") as log:
    log.write(json.dumps(record) + "\\n")
exposed = " ".join(argv) + " " + " ".join(f"{{k}}={{v}}" for k, v in os.environ.items())
if any(secret and secret in exposed for secret in spec["secrets"]):
    sys.stderr.write("secret leaked\\n")
    sys.exit(2)
if "--version" in argv[1:]:
    print(spec["version"])
    sys.exit(0)
if spec["consume_to"]:
    with open(spec["consume_to"], "wb") as out:
        while data := sys.stdin.buffer.read(1 << 20):
            out.write(data)
if spec["emit"]:
    with open(spec["emit"], "rb") as source:
        while data := source.read(1 << 20):
            sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
sys.stderr.write(spec["stderr"])
sys.exit(spec["exit_code"])
"""


@dataclass
class StandinSpec:
    """How a stand-in behaves (see the module docstring)."""

    log: str
    version: str = "standin version 0.0"
    secrets: list[str] = field(default_factory=list)
    file_flags: list[str] = field(default_factory=list)
    emit: str | None = None
    consume_to: str | None = None
    stderr: str = ""
    exit_code: int = 0


def write_standin(
    directory: Path,
    name: str,
    *,
    secrets: Sequence[str] = (),
    file_flags: Sequence[str] = (),
    emit: Path | None = None,
    consume_to: Path | None = None,
    version: str = "standin version 0.0",
    stderr: str = "",
    exit_code: int = 0,
) -> Path:
    """Write (or rewrite) the executable ``directory/name``; its log is ``name.log.jsonl``
    next to it and its spec ``name.spec.json`` (neither on argv nor in the environment)."""
    directory.mkdir(parents=True, exist_ok=True)
    spec = StandinSpec(
        log=str(directory / f"{name}.log.jsonl"),
        version=version,
        secrets=list(secrets),
        file_flags=list(file_flags),
        emit=str(emit) if emit else None,
        consume_to=str(consume_to) if consume_to else None,
        stderr=stderr,
        exit_code=exit_code,
    )
    spec_path = directory / f"{name}.spec.json"
    spec_path.write_text(json.dumps(asdict(spec)))
    script = directory / name
    script.write_text(_SCRIPT.format(python=sys.executable, spec=str(spec_path)))
    script.chmod(0o755)
    return script


def runs(directory: Path, name: str) -> list[dict[str, Any]]:
    """Every recorded run of the stand-in ``name``, oldest first."""
    log = directory / f"{name}.log.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines() if line]


def last_run(directory: Path, name: str, *, skip_version: bool = True) -> dict[str, Any]:
    """The latest run of ``name`` (by default the latest that was not a ``--version``)."""
    recorded = [
        run for run in runs(directory, name) if not (skip_version and "--version" in run["argv"])
    ]
    assert recorded, f"{name} never ran"
    return recorded[-1]
