"""Benchmark: DataGuardian's S3 and SFTP uploads against the libraries' own plain copy.

    .venv/bin/python bench/storage_upload.py [--size-mb 1024] [--runs 3] [--targets s3,sftp]
    .venv/bin/python bench/storage_upload.py --size-mb 2048 --runs 1 --rss-only

Writes an incompressible artifact of ``--size-mb`` MiB (seeded PRNG, 1 MiB pieces) to a
temporary directory, starts a moto S3 server and a real sshd on loopback (the test suite's
helpers), then, for each target and ``--runs`` times, interleaving the two so neither always
goes first, uploads it:

- reference: the library alone. S3: ``boto3`` ``upload_fileobj`` with a default
  ``TransferConfig`` (what ``aws s3 cp`` does: 8 MiB parts, 10 threads, a CRC32 on every part).
  SFTP: paramiko's ``SFTPClient.putfo``.
- DataGuardian: the adapter's ``open_write`` fed the file in 1 MiB pieces with the size as
  ``size_hint``, as the backup pipeline does. For S3 with ``checksums: on``, the setting
  ``auto`` picks for Amazon S3: a CRC32 on every part, like the reference.
- S3 only, a second pair with checksums off on both sides: the reference with botocore's
  ``request_checksum_calculation="when_required"`` and DataGuardian with ``checksums: off``,
  what ``auto`` picks for any other endpoint (several S3-compatible services reject the CRC
  headers). Without a checksum algorithm, moto computes a whole-object checksum when the upload
  is completed, so this pair is slower on both sides.

Each upload runs in a fresh child process (bench/_upload_once.py), so its ``ru_maxrss`` is the
peak RSS of that upload alone; the time is measured inside the child from the first network
call (client creation, connection) to the published object, so interpreter and Django start-up
are excluded on both sides. Every S3 upload gets a freshly started moto server (moto keeps
objects in its own memory), and every uploaded object or file is checked for size and deleted.

Prints, per target and pair, the median times and throughputs, the ratio DataGuardian /
reference (target <= 1.15) and the peak RSS; for S3 also
the median time the server took to complete the multipart upload. ``--rss-only`` uploads with
DataGuardian only and reports its peak RSS against the 200 MB target (the 2 GiB large-artifact
check).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.storage.s3server import adapter_config, moto_server  # noqa: E402
from tests.storage.sshd import _keygen, running_sshd  # noqa: E402

MIB = 1024 * 1024
RATIO_TARGET = 1.15
RSS_TARGET_BYTES = 200 * 1000 * 1000  # 200 MB
SEED = 20_261_123


def make_artifact(path: Path, size_mb: int) -> None:
    """Incompressible and reproducible: a seeded PRNG, written in 1 MiB pieces."""
    generator = random.Random(SEED)
    with path.open("wb") as file:
        for _ in range(size_mb):
            file.write(generator.randbytes(MIB))


@contextmanager
def ssh_server(base: Path) -> Iterator[dict[str, Any]]:
    """A real sshd on a free loopback port, logging root in with a throwaway Ed25519 key."""
    if os.geteuid() != 0:
        raise SystemExit("The SFTP target starts sshd and logs in as root: run as root.")
    _keygen(base / "host_ed25519", "ed25519")
    _keygen(base / "client_ed25519", "ed25519")
    authorized = base / "authorized_keys"
    shutil.copy(base / "client_ed25519.pub", authorized)
    authorized.chmod(0o644)
    remote = base / "remote"
    remote.mkdir()
    with running_sshd(base, authorized, password_auth=False, settings="LogLevel ERROR") as (
        port,
        _process,
        _log,
    ):
        yield {
            "host": "127.0.0.1",
            "port": port,
            "username": "root",
            "password": "",
            "private_key": (base / "client_ed25519").read_text(),
            "private_key_passphrase": "",
            "host_key": (base / "host_ed25519.pub").read_text().strip(),
            "remote_path": str(remote),
        }


def run_child(job: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "_upload_once.py")],
        input=json.dumps(job),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if answer.returncode != 0:
        raise SystemExit(f"{job['mode']} upload to {job['target']} failed:\n{answer.stderr}")
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    return result


# DataGuardian's mode -> the reference it is compared with.
PAIRS = {"dataguardian": "reference", "dataguardian-no-crc": "reference-no-crc"}


def modes_for(target: str, rss_only: bool) -> list[str]:
    if rss_only:
        return ["dataguardian"]
    if target == "s3":
        return ["reference", "dataguardian", "reference-no-crc", "dataguardian-no-crc"]
    return ["reference", "dataguardian"]


def upload_s3(mode: str, artifact: Path, size: int, env: dict[str, str]) -> dict[str, Any]:
    """One upload to a freshly started moto server, checked and deleted afterwards."""
    with moto_server() as server:
        bucket = server.create_bucket()
        name = f"bench/{mode}.bin"
        crc = not mode.endswith("-no-crc")
        job = {
            "mode": mode.removesuffix("-no-crc"),
            "checksums": "when_supported" if crc else "when_required",
            "target": "s3",
            "artifact": str(artifact),
            "name": name,
            "config": adapter_config("s3", server.url, bucket)
            | {"checksums": "on" if crc else "off"},
        }
        result = run_child(job, env)
        client = server.client()
        stored = int(client.head_object(Bucket=bucket, Key=name)["ContentLength"])
        client.delete_object(Bucket=bucket, Key=name)
    if stored != size:
        raise SystemExit(f"{mode} upload to S3 stored {stored} of {size} bytes")
    return result


def upload_sftp(
    mode: str, artifact: Path, size: int, env: dict[str, str], ssh: dict[str, Any]
) -> dict[str, Any]:
    name = f"{mode}.bin"
    job = {"mode": mode, "target": "sftp", "artifact": str(artifact), "name": name}
    job["config"] = ssh
    result = run_child(job, env)
    stored_path = Path(ssh["remote_path"]) / name  # the server is this machine
    stored = stored_path.stat().st_size
    stored_path.unlink()
    if stored != size:
        raise SystemExit(f"{mode} upload over SFTP stored {stored} of {size} bytes")
    return result


def mib_per_s(size: int, seconds: float) -> float:
    return size / MIB / seconds


def print_comparison(size: int, results: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    print()
    print(
        f"{'target':<6} {'reference':<16} {'ref s':>6} {'ref MiB/s':>9} {'ref RSS MiB':>11} "
        f"{'DG s':>6} {'DG MiB/s':>8} {'ratio':>6} {'DG RSS MiB':>10}  ratio <= {RATIO_TARGET}"
    )
    for target, by_mode in results.items():
        for mine, mode in PAIRS.items():
            if mine not in by_mode:
                continue
            ours = statistics.median(r["seconds"] for r in by_mode[mine])
            dg_rss = max(r["peak_rss_kb"] for r in by_mode[mine]) / 1024
            ref = statistics.median(r["seconds"] for r in by_mode[mode])
            ref_rss = max(r["peak_rss_kb"] for r in by_mode[mode]) / 1024
            ratio = ours / ref
            verdict = "met" if ratio <= RATIO_TARGET else "NOT met"
            print(
                f"{target:<6} {mode:<16} {ref:>6.2f} {mib_per_s(size, ref):>9.1f} "
                f"{ref_rss:>11.1f} {ours:>6.2f} {mib_per_s(size, ours):>8.1f} {ratio:>6.3f} "
                f"{dg_rss:>10.1f}  {verdict}"
            )
    if "s3" in results:
        print()
        print(
            "S3 median seconds in CompleteMultipartUpload (moto's work, inside the times above) "
            "and before it:"
        )
        for mode, runs in results["s3"].items():
            completes = [r["complete_seconds"] or 0.0 for r in runs]
            before = [r["seconds"] - (r["complete_seconds"] or 0.0) for r in runs]
            print(
                f"  {mode:<16} completion {statistics.median(completes):6.2f}, "
                f"before it {statistics.median(before):6.2f}"
            )


def print_rss(size: int, results: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    print()
    print(f"peak RSS of DataGuardian's upload of {size / 1024**3:.2f} GiB (target < 200 MB):")
    for target, by_mode in results.items():
        peak = max(r["peak_rss_kb"] for r in by_mode["dataguardian"]) * 1024
        seconds = statistics.median(r["seconds"] for r in by_mode["dataguardian"])
        verdict = "met" if peak < RSS_TARGET_BYTES else "NOT met"
        print(
            f"  {target:<5} {peak / 1e6:7.1f} MB ({peak / MIB:6.1f} MiB) in {seconds:.2f} s "
            f"({mib_per_s(size, seconds):.1f} MiB/s)  {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="artifact size in MiB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--targets", default="s3,sftp", help="comma separated: s3, sftp")
    parser.add_argument(
        "--rss-only", action="store_true", help="DataGuardian uploads only; report peak RSS"
    )
    args = parser.parse_args()
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(targets) - {"s3", "sftp"}
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")

    work = Path(tempfile.mkdtemp(prefix="dgbench-upload-"))
    env = {**os.environ, "DATAGUARDIAN_DATA_DIR": str(work / "data")}
    artifact = work / "artifact.bin"
    results: dict[str, dict[str, list[dict[str, Any]]]] = {
        target: {mode: [] for mode in modes_for(target, args.rss_only)} for target in targets
    }
    try:
        started = time.monotonic()
        make_artifact(artifact, args.size_mb)
        size = artifact.stat().st_size
        print(f"artifact: {size / MIB:.0f} MiB in {time.monotonic() - started:.1f} s", flush=True)
        (work / "sshd").mkdir()
        with ExitStack() as stack:
            ssh = stack.enter_context(ssh_server(work / "sshd")) if "sftp" in targets else {}
            for run in range(args.runs):
                # Alternate which goes first, so neither always meets a warmer cache.
                for target in targets:
                    modes = modes_for(target, args.rss_only)
                    for mode in modes if run % 2 == 0 else modes[::-1]:
                        if target == "s3":
                            result = upload_s3(mode, artifact, size, env)
                        else:
                            result = upload_sftp(mode, artifact, size, env, ssh)
                        results[target][mode].append(result)
                        complete = result["complete_seconds"]
                        print(
                            f"run {run + 1} {target:<4} {mode:<16}: {result['seconds']:7.2f} s "
                            f"{mib_per_s(size, result['seconds']):7.1f} MiB/s, "
                            f"CPU {result['cpu_seconds']:6.2f} s, "
                            f"peak RSS {result['peak_rss_kb'] / 1024:6.1f} MiB"
                            + (f", completion {complete:5.2f} s" if complete is not None else ""),
                            flush=True,
                        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if args.rss_only:
        print_rss(size, results)
    else:
        print_comparison(size, results)


if __name__ == "__main__":
    main()
