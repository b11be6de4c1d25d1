"""Long runs of the fault-injection suite (tests/faults, docs/RELIABILITY.md).

    .venv/bin/python bench/faults.py [--rounds 200] [--seed N] [--embedded] [-k EXPRESSION]

Runs the fault tests with ``--rounds`` rounds each (CI runs a few) from the seed given (a
failing round replays with the same seed), in the server mode (the local PostgreSQL and Redis,
as ``make test-server``) or with ``--embedded`` in the embedded mode, then prints one line per
fault: rounds, invariant violations (must be 0), seconds, and where the faults struck. ``-k``
selects faults as pytest's ``-k`` does. Exits non-zero when a violation was found; the first
violations of each fault are printed below the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--embedded", action="store_true")
    parser.add_argument("-k", dest="select", default=None)
    args = parser.parse_args()

    env = dict(os.environ)
    if args.embedded:
        for name in ("DATABASE_URL", "DATABASE_URL_FILE", "REDIS_URL", "REDIS_URL_FILE"):
            env.pop(name, None)
        env["DATAGUARDIAN_DATA_DIR"] = str(ROOT / "data" / "faults-embedded")
    else:
        env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/dataguardian_faults"
        env["REDIS_URL"] = "redis://127.0.0.1:6379/14"
        env["DATAGUARDIAN_DATA_DIR"] = str(ROOT / "data" / "faults")
    env["DATAGUARDIAN_FAULT_ROUNDS"] = str(args.rounds)
    if args.seed is not None:
        env["DATAGUARDIAN_FAULT_SEED"] = str(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.jsonl"
        env["DATAGUARDIAN_FAULT_REPORT"] = str(report)
        command = [str(ROOT / ".venv" / "bin" / "pytest"), "-q", "-p", "no:cacheprovider"]
        command += ["tests/faults", *(["-k", args.select] if args.select else [])]
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        lines = (
            [json.loads(line) for line in report.read_text().splitlines()]
            if report.exists()
            else []
        )
    mode = "embedded" if args.embedded else "server"
    print(f"fault-injection suite, {mode} mode, seed {lines[0]['seed'] if lines else '?'}:")
    print(f"  {'fault':40} {'rounds':>6} {'violations':>10} {'seconds':>8}  struck")
    for line in lines:
        struck = ", ".join(f"{where} {count}" for where, count in line["struck"].items())
        print(
            f"  {line['fault']:40} {line['rounds']:>6} {line['violations']:>10} "
            f"{line['seconds']:>8.1f}  {struck}"
        )
    for line in lines:
        for detail in line["details"]:
            print(f"  {line['fault']}: {detail}")
    if run.returncode != 0:
        print(run.stdout[-4000:], file=sys.stderr)
    return run.returncode


if __name__ == "__main__":
    sys.exit(main())
