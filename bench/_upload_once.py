"""Upload one artifact once in this process and print its figures as JSON.

Used by bench/storage_upload.py, which passes the job as JSON on stdin:
``{"mode": "reference" | "dataguardian", "target": "s3" | "sftp", "artifact": path,
"name": object key or remote path, "config": adapter config, "checksums": botocore's
``request_checksum_calculation`` for the S3 reference}``. Running each upload in a fresh
process makes ``ru_maxrss`` the peak of that upload alone. The reference imports only its
library; DataGuardian's side loads Django, as a worker has.
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import time
from typing import Any

import boto3.session
import paramiko
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MIB = 1024 * 1024
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def time_completion(client: Any, job: dict[str, Any]) -> None:
    """Record the seconds spent in ``CompleteMultipartUpload``, which is server-side work."""

    def before(**_: Any) -> None:
        job["_complete_started"] = time.monotonic()

    def after(**_: Any) -> None:
        job["_complete_seconds"] = time.monotonic() - job["_complete_started"]

    client.meta.events.register("before-call.s3.CompleteMultipartUpload", before)
    client.meta.events.register("after-call.s3.CompleteMultipartUpload", after)


def reference_s3(job: dict[str, Any]) -> None:
    """``aws s3 cp``: boto3's managed transfer with its default settings (8 MiB parts,
    10 threads); ``checksums`` chooses botocore's ``request_checksum_calculation``."""
    config = job["config"]
    checksums = job.get("checksums", "when_supported")
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=config["endpoint"],
        region_name=config["region"],
        aws_access_key_id=config["access_key_id"],
        aws_secret_access_key=config["secret_access_key"],
        config=Config(
            request_checksum_calculation=checksums, response_checksum_validation=checksums
        ),
    )
    time_completion(client, job)
    with open(job["artifact"], "rb") as file:
        client.upload_fileobj(file, config["bucket"], job["name"], Config=TransferConfig())


def reference_sftp(job: dict[str, Any]) -> None:
    """``sftp put``: paramiko's ``putfo`` over one authenticated connection."""
    config = job["config"]
    transport = paramiko.Transport((config["host"], config["port"]))
    try:
        transport.connect(
            username=config["username"],
            pkey=paramiko.Ed25519Key.from_private_key(io.StringIO(config["private_key"])),
        )
        sftp = paramiko.SFTPClient.from_transport(transport)
        assert sftp is not None
        with open(job["artifact"], "rb") as file:
            sftp.putfo(file, f"{config['remote_path']}/{job['name']}")
        sftp.close()
    finally:
        transport.close()


def dataguardian(job: dict[str, Any]) -> None:
    """What the pipeline does: ``open_write`` fed 1 MiB at a time, with the size as hint."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")
    sys.path.insert(0, ROOT)
    import django

    django.setup()
    from storage.adapters.s3 import S3Adapter
    from storage.adapters.ssh import SSHAdapter

    adapter = (S3Adapter if job["target"] == "s3" else SSHAdapter)(job["config"])
    size = os.path.getsize(job["artifact"])
    with open(job["artifact"], "rb") as file:
        started = time.monotonic()
        if isinstance(adapter, S3Adapter):
            time_completion(adapter.client, job)
        with adapter.open_write(job["name"], size_hint=size) as writer:
            while piece := file.read(MIB):
                writer.write(piece)
        job["_seconds"] = time.monotonic() - started
        if writer.bytes_written != size:
            raise SystemExit(f"wrote {writer.bytes_written} of {size} bytes")


def main() -> None:
    job = json.load(sys.stdin)
    if job["mode"] == "dataguardian":
        dataguardian(job)  # times itself: Django's start-up is not part of an upload
        seconds = job["_seconds"]
    else:
        started = time.monotonic()
        (reference_s3 if job["target"] == "s3" else reference_sftp)(job)
        seconds = time.monotonic() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                "complete_seconds": job.get("_complete_seconds"),
            }
        )
    )


if __name__ == "__main__":
    main()
