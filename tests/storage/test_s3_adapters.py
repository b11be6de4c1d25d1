"""The S3, MinIO and Backblaze adapters against a real S3 endpoint on loopback (moto's server)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework import serializers

from storage.adapters.backblaze import BackblazeAdapter
from storage.adapters.base import (
    StorageAuthFailed,
    StorageError,
    StoragePathMissing,
    StoragePermissionDenied,
    StorageUnreachable,
    StoredObject,
    TransientStorageError,
)
from storage.adapters.minio import MinIOAdapter, endpoint_url
from storage.adapters.s3 import (
    MIB,
    S3Adapter,
    S3CompatibleAdapter,
    part_size_for,
    relative_key,
)
from storage.adapters.s3 import adapter as s3_adapter
from storage.adapters.s3 import writer as s3_writer
from tests.storage.s3server import AuthServer, MotoServer, adapter_config, cuttable_proxy, free_port

ADAPTERS: dict[str, type[S3CompatibleAdapter]] = {
    "s3": S3Adapter,
    "minio": MinIOAdapter,
    "backblaze": BackblazeAdapter,
}
KINDS = sorted(ADAPTERS)


def make_adapter(kind: str, url: str, bucket: str, **options: Any) -> S3CompatibleAdapter:
    cls = ADAPTERS[kind]
    config = cls.validate_config(adapter_config(kind, url, bucket, **options))
    return cls(config)


@pytest.fixture(params=KINDS)
def adapter(request: pytest.FixtureRequest, moto: MotoServer, s3_bucket: str) -> Any:
    return make_adapter(request.param, moto.url, s3_bucket, prefix="/dataguardian/")


def pieces(total: int, seed: int = 0, size: int = MIB) -> list[bytes]:
    """Incompressible data in ``size`` pieces, reproducible from ``seed``."""
    rng = random.Random(seed)
    sizes = [size] * (total // size) + ([total % size] if total % size else [])
    return [rng.randbytes(n) for n in sizes]


def write(adapter: S3CompatibleAdapter, path: str, parts: list[bytes], **kwargs: Any) -> None:
    with adapter.open_write(path, **kwargs) as writer:
        for part in parts:
            writer.write(part)


def write_then(
    adapter: S3CompatibleAdapter, path: str, parts: list[bytes], then: Callable[[], None]
) -> None:
    """Write ``parts`` in 8 MiB parts, then call ``then`` before the upload is finished."""
    with adapter.open_write(path, size_hint=1) as writer:
        for part in parts:
            writer.write(part)
        then()


def crash(error: BaseException) -> Callable[[], None]:
    def raise_it() -> None:
        raise error

    return raise_it


def read(adapter: S3CompatibleAdapter, path: str) -> bytes:
    out = bytearray()
    with adapter.open_read(path) as body:
        while piece := body.read(100_000):
            assert len(piece) <= 100_000
            out += piece
    return bytes(out)


def raw_keys(moto: MotoServer, bucket: str) -> list[str]:
    answer = moto.client().list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in answer.get("Contents", [])]


def uploads_in_progress(moto: MotoServer, bucket: str) -> list[str]:
    answer = moto.client().list_multipart_uploads(Bucket=bucket)
    return [upload["Key"] for upload in answer.get("Uploads", [])]


# -- pure helpers ------------------------------------------------------------------------------


def test_the_part_size_is_16_mib_without_a_hint() -> None:
    assert part_size_for(None) == 16 * MIB


def test_the_part_size_is_at_least_8_mib_for_small_hints() -> None:
    assert part_size_for(1000) == 8 * MIB


def test_the_part_size_grows_with_the_hint_to_keep_9000_parts_with_margin() -> None:
    hint = 200 * 1024**3  # 200 GiB * 1.5 / 9000 = 34.13 MiB, rounded up to 35 MiB
    assert part_size_for(hint) == 35 * MIB
    assert part_size_for(hint) * 9000 >= hint * 1.5


def test_the_part_size_is_capped_at_5_gib() -> None:
    assert part_size_for(100 * 1024**4) == 5 * 1024**3


def test_paths_with_dot_dot_absolute_or_nul_are_refused() -> None:
    for bad in ("../x", "a/../../x", "/etc/passwd", "a\x00b"):
        with pytest.raises(StorageError):
            relative_key(bad)


def test_paths_are_normalised_to_slash_separated_keys() -> None:
    assert relative_key("a//b/./c") == "a/b/c"


def test_a_minio_host_and_port_becomes_a_url_by_use_ssl() -> None:
    assert endpoint_url("minio.lan:9000", True) == "https://minio.lan:9000"
    assert endpoint_url("minio.lan:9000", False) == "http://minio.lan:9000"
    assert endpoint_url("http://minio.lan:9000/", True) == "http://minio.lan:9000"


def test_backblaze_defaults_to_its_regional_endpoint_and_has_no_conditional_writes() -> None:
    config = BackblazeAdapter.validate_config(
        {
            "bucket_id": "b1",
            "bucket_name": "my-backups",
            "application_key_id": "k",
            "application_key": "secret",
            "region": "eu-central-003",
        }
    )
    adapter = BackblazeAdapter(config)
    assert adapter.settings.endpoint_url == "https://s3.eu-central-003.backblazeb2.com"
    assert adapter.settings.bucket == "my-backups"
    assert adapter.conditional_write_supported() is False


def test_the_settings_repr_does_not_show_the_secret() -> None:
    adapter = make_adapter("s3", "http://127.0.0.1:1", "bucket", secret="very-secret-key-123")
    assert "very-secret-key-123" not in repr(adapter.settings)


# -- against the server -------------------------------------------------------------------------


def test_a_written_object_lists_exists_reads_back_and_deletes(
    adapter: S3CompatibleAdapter, moto: MotoServer
) -> None:
    data = pieces(3 * MIB + 123)
    write(adapter, "ds/job/run/dump.sql.zst", data)
    assert adapter.list_files() == [StoredObject("ds/job/run/dump.sql.zst", 3 * MIB + 123)]
    assert adapter.exists("ds/job/run/dump.sql.zst")
    assert adapter.exists("ds/job")
    assert not adapter.exists("ds/job/run/other")
    assert read(adapter, "ds/job/run/dump.sql.zst") == b"".join(data)
    assert raw_keys(moto, adapter.settings.bucket) == ["dataguardian/ds/job/run/dump.sql.zst"]
    adapter.delete("ds/job/run/dump.sql.zst")
    assert adapter.list_files() == []
    assert not adapter.exists("ds/job/run/dump.sql.zst")


def test_deleting_a_prefix_removes_everything_below_it_only(adapter: S3CompatibleAdapter) -> None:
    for name in ("run/a", "run/sub/b", "run2/c", "runner"):
        write(adapter, name, [name.encode()])
    adapter.delete("run")
    assert [item.path for item in adapter.list_files()] == ["run2/c", "runner"]


def test_deleting_a_prefix_aborts_the_unfinished_uploads_below_it_only(
    adapter: S3CompatibleAdapter, moto: MotoServer
) -> None:
    client, bucket = moto.client(), adapter.settings.bucket
    for key in ("dataguardian/run/chunk.001", "dataguardian/runner"):
        client.create_multipart_upload(Bucket=bucket, Key=key)
    adapter.delete("run")
    assert uploads_in_progress(moto, bucket) == ["dataguardian/runner"]


def test_deleting_a_missing_path_is_not_an_error(adapter: S3CompatibleAdapter) -> None:
    adapter.delete("never/written")
    assert adapter.list_files() == []


def test_listing_a_prefix_is_recursive_and_sorted(adapter: S3CompatibleAdapter) -> None:
    for name in ("x/b", "x/a/2", "x/a/1", "y/z"):
        write(adapter, name, [b"1234"])
    assert [item.path for item in adapter.list_files("x")] == ["x/a/1", "x/a/2", "x/b"]
    assert adapter.list_files("x/b") == [StoredObject("x/b", 4)]


def test_reading_a_missing_object_raises_path_missing(adapter: S3CompatibleAdapter) -> None:
    with pytest.raises(StoragePathMissing, match="nope"):
        read(adapter, "nope")


def test_an_empty_object_can_be_written_and_read(adapter: S3CompatibleAdapter) -> None:
    write(adapter, "empty", [])
    assert adapter.list_files() == [StoredObject("empty", 0)]
    assert read(adapter, "empty") == b""


def test_a_large_object_is_uploaded_in_several_parts(
    adapter: S3CompatibleAdapter, moto: MotoServer
) -> None:
    data = pieces(20 * MIB + 5)
    write(adapter, "big", data, size_hint=1000)  # the hint gives the minimum, 8 MiB parts
    head = moto.client().head_object(
        Bucket=adapter.settings.bucket, Key="dataguardian/big", PartNumber=1
    )
    assert head["PartsCount"] == 3
    assert read(adapter, "big") == b"".join(data)


def test_an_exception_inside_the_write_leaves_no_object_and_no_upload(
    adapter: S3CompatibleAdapter, moto: MotoServer
) -> None:
    # More than one 8 MiB part: the multipart upload has started when the error comes.
    with pytest.raises(RuntimeError):
        write_then(adapter, "failed", pieces(9 * MIB), crash(RuntimeError("the dump crashed")))
    assert raw_keys(moto, adapter.settings.bucket) == []
    assert uploads_in_progress(moto, adapter.settings.bucket) == []


def test_a_keyboard_interrupt_inside_the_write_also_aborts_the_upload(
    moto: MotoServer, s3_bucket: str
) -> None:
    adapter = make_adapter("s3", moto.url, s3_bucket)
    with pytest.raises(KeyboardInterrupt):
        write_then(adapter, "failed", pieces(9 * MIB), crash(KeyboardInterrupt()))
    assert uploads_in_progress(moto, adapter.settings.bucket) == []
    assert raw_keys(moto, adapter.settings.bucket) == []


def test_writing_an_existing_path_fails_and_keeps_the_original(
    adapter: S3CompatibleAdapter,
) -> None:
    write(adapter, "kept", [b"original"])
    with pytest.raises(StorageError, match="never overwritten"):
        write(adapter, "kept", [b"replacement"])
    assert read(adapter, "kept") == b"original"


@pytest.mark.parametrize("size", [10, 9 * MIB], ids=["single", "multipart"])
def test_an_object_appearing_during_the_upload_is_not_overwritten(
    moto: MotoServer, s3_bucket: str, size: int
) -> None:
    adapter = make_adapter("s3", moto.url, s3_bucket)

    def other_writer() -> None:
        moto.client().put_object(Bucket=s3_bucket, Key="race", Body=b"the other writer")

    with pytest.raises(StorageError, match="never overwritten"):
        write_then(adapter, "race", pieces(size), other_writer)
    assert read(adapter, "race") == b"the other writer"
    assert uploads_in_progress(moto, s3_bucket) == []


def test_more_parts_than_the_limit_fail_clearly_before_sending_and_abort(
    moto: MotoServer, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapter = make_adapter("s3", moto.url, s3_bucket)
    monkeypatch.setattr(s3_writer, "MAX_PARTS", 2)
    with pytest.raises(StorageError, match="max_file_size_mb") as info:
        write(adapter, "huge", pieces(8 * MIB * 2 + 1), size_hint=1)
    assert "exceeded the limit of 2 parts of 8 MiB" in str(info.value)
    assert raw_keys(moto, adapter.settings.bucket) == []
    assert uploads_in_progress(moto, adapter.settings.bucket) == []


def test_the_storage_class_is_set_on_new_objects(moto: MotoServer, s3_bucket: str) -> None:
    config = {**adapter_config("s3", moto.url, s3_bucket), "storage_class": "STANDARD_IA"}
    adapter = S3Adapter(S3Adapter.validate_config(config))
    write(adapter, "small", [b"x"])
    write(adapter, "large", pieces(9 * MIB), size_hint=1)
    for key in ("small", "large"):
        assert moto.client().head_object(Bucket=s3_bucket, Key=key)["StorageClass"] == (
            "STANDARD_IA"
        )


def test_usage_counts_every_object_under_the_prefix_only(moto: MotoServer, s3_bucket: str) -> None:
    adapter = make_adapter("s3", moto.url, s3_bucket, prefix="mine")
    write(adapter, "a", [b"x" * 1000])
    write(adapter, "b/c", [b"y" * 234])
    moto.client().put_object(Bucket=s3_bucket, Key="elsewhere", Body=b"z" * 5000)
    usage = adapter.usage()
    assert usage.used_bytes == 1234
    assert usage.available_bytes is None


def retries_logged(caplog: pytest.LogCaptureFixture) -> int:
    return sum(record.getMessage().startswith("Retrying upload part") for record in caplog.records)


def test_a_dropped_part_upload_is_retried_by_the_adapter_and_succeeds(
    moto: MotoServer,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # botocore's own retries are off, so the drops reach the adapter's per-part loop. Below
    # botocore, a request cut before any answer is sent once more on a new connection, so one
    # adapter attempt costs two dropped requests.
    monkeypatch.setattr(s3_adapter, "BOTOCORE_MAX_ATTEMPTS", 1)
    monkeypatch.setattr(s3_writer, "PART_RETRY_DELAYS", (0.05, 0.05))
    with cuttable_proxy(moto.port) as proxy:
        adapter = make_adapter("s3", proxy.url, s3_bucket)
        data = pieces(9 * MIB)
        with adapter.open_write("retried", size_hint=1) as writer:
            proxy.drop_puts = 2
            for piece in data:
                writer.write(piece)
        assert proxy.dropped == 2
    assert retries_logged(caplog) == 1
    assert read(make_adapter("s3", moto.url, s3_bucket), "retried") == b"".join(data)


def test_a_part_upload_dropped_every_time_fails_as_transient_and_aborts(
    moto: MotoServer,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(s3_adapter, "BOTOCORE_MAX_ATTEMPTS", 1)
    monkeypatch.setattr(s3_writer, "PART_RETRY_DELAYS", (0.05, 0.05))
    with cuttable_proxy(moto.port) as proxy:
        adapter = make_adapter("s3", proxy.url, s3_bucket)
        proxy.cut()
        with pytest.raises(TransientStorageError, match="upload part 1 of") as info:
            write(adapter, "lost", pieces(9 * MIB), size_hint=1)
        assert proxy.dropped == 6
    assert retries_logged(caplog) == 2  # three attempts in all
    assert "connection" in str(info.value)
    assert uploads_in_progress(moto, s3_bucket) == []
    assert raw_keys(moto, s3_bucket) == []


# -- test_connection ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_reachable_bucket_passes_the_connection_test_and_leaves_no_probe(
    kind: str, moto: MotoServer, s3_bucket: str
) -> None:
    adapter = make_adapter(kind, moto.url, s3_bucket, prefix="p")
    adapter.test_connection()
    assert raw_keys(moto, s3_bucket) == []


def test_a_closed_port_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3_adapter, "BOTOCORE_MAX_ATTEMPTS", 1)
    adapter = make_adapter("s3", f"http://127.0.0.1:{free_port()}", "bucket")
    with pytest.raises(StorageUnreachable, match="cannot be reached"):
        adapter.test_connection()


def test_a_missing_bucket_is_path_missing(moto: MotoServer) -> None:
    adapter = make_adapter("s3", moto.url, "no-such-bucket-here")
    with pytest.raises(StoragePathMissing, match="no-such-bucket-here"):
        adapter.test_connection()


def test_an_unknown_access_key_is_auth_failed(moto_auth: AuthServer) -> None:
    adapter = make_adapter(
        "s3", moto_auth.server.url, moto_auth.bucket, key="AKIAUNKNOWN000000000", secret="x" * 40
    )
    with pytest.raises(StorageAuthFailed, match="InvalidAccessKeyId"):
        adapter.test_connection()


def test_a_wrong_secret_is_auth_failed_and_not_shown(moto_auth: AuthServer) -> None:
    wrong = "Wrong-Secret-Value-0123456789abcdefghijk"
    adapter = make_adapter(
        "s3", moto_auth.server.url, moto_auth.bucket, key=moto_auth.writer.key_id, secret=wrong
    )
    with pytest.raises(StorageAuthFailed, match="SignatureDoesNotMatch") as info:
        adapter.test_connection()
    assert wrong not in str(info.value)
    assert wrong not in repr(info.value.__cause__)


def test_valid_credentials_pass_the_connection_test_with_auth_on(moto_auth: AuthServer) -> None:
    writer = moto_auth.writer
    adapter = make_adapter(
        "s3", moto_auth.server.url, moto_auth.bucket, key=writer.key_id, secret=writer.secret
    )
    adapter.test_connection()


def test_a_key_without_write_permission_is_permission_denied(moto_auth: AuthServer) -> None:
    reader = moto_auth.reader
    adapter = make_adapter(
        "s3", moto_auth.server.url, moto_auth.bucket, key=reader.key_id, secret=reader.secret
    )
    with pytest.raises(StoragePermissionDenied, match="AccessDenied"):
        adapter.test_connection()


# -- memory -------------------------------------------------------------------------------------

MEMORY_PROBE = textwrap.dedent(
    """
    import json, os, random, sys, time, tracemalloc
    import django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dataguardian.settings")
    django.setup()
    from storage.adapters.s3 import S3Adapter

    def rss_kib(field):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])

    config = json.loads(sys.argv[1])
    adapter = S3Adapter(S3Adapter.validate_config(config))
    # Incompressible data made one MiB at a time from a random seed, never held whole.
    rng = random.Random(os.urandom(32))
    def fill(n):
        return rng.randbytes(1024 * 1024)
    with adapter.open_write("warm-up") as writer:
        writer.write(fill(0))
    before = rss_kib("VmRSS")
    tracemalloc.start()
    started = time.monotonic()
    with adapter.open_write("big", size_hint=None) as writer:
        for n in range(int(sys.argv[2])):
            writer.write(fill(n))
    seconds = time.monotonic() - started
    peak_traced = tracemalloc.get_traced_memory()[1]
    # VmHWM is the peak resident size; measured against the resident size just before the
    # upload, so an earlier peak (imports, loading botocore's models) cannot hide growth.
    growth = rss_kib("VmHWM") - before
    print(json.dumps({"rss_growth_kib": growth, "traced_peak_kib": peak_traced // 1024,
                      "seconds": seconds}))
    """
)


# -- checksums ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "endpoint", "checksums", "expected"),
    [
        ("s3", None, "auto", True),
        ("s3", "https://s3.eu-west-1.amazonaws.com", "auto", True),
        ("s3", "https://s3.wasabisys.com", "auto", False),
        ("s3", "https://amazonaws.com.example.org", "auto", False),
        ("s3", "https://s3.wasabisys.com", "on", True),
        ("s3", None, "off", False),
        ("minio", None, "auto", False),
        ("minio", None, "on", True),
        ("backblaze", None, "auto", False),
    ],
)
def test_checksums_are_on_for_amazon_and_off_elsewhere_unless_chosen(
    kind: str, endpoint: str | None, checksums: str, expected: bool
) -> None:
    config = adapter_config(kind, "http://127.0.0.1:1", "bucket")
    if kind == "s3":
        config["endpoint"] = endpoint
    config = ADAPTERS[kind].validate_config({**config, "checksums": checksums})
    assert ADAPTERS[kind](config).settings.checksums_on is expected


def test_checksums_default_to_auto_and_refuse_other_values() -> None:
    config = adapter_config("s3", "http://127.0.0.1:1", "bucket")
    assert S3Adapter.validate_config(config)["checksums"] == "auto"
    with pytest.raises(serializers.ValidationError) as caught:
        S3Adapter.validate_config({**config, "checksums": "md5"})
    assert "checksums" in str(caught.value)


def with_checksums(moto: MotoServer, bucket: str, checksums: str) -> S3Adapter:
    config = {**adapter_config("s3", moto.url, bucket), "checksums": checksums}
    return S3Adapter(S3Adapter.validate_config(config))


def checksum_headers(adapter: S3CompatibleAdapter) -> list[tuple[str, dict[str, str]]]:
    """The operation and checksum headers of every request the adapter sends from now on."""
    sent: list[tuple[str, dict[str, str]]] = []

    def record(request: Any, event_name: str, **_: Any) -> None:
        headers = {
            name.lower(): value.decode() if isinstance(value, bytes) else value
            for name, value in request.headers.items()
            if "checksum" in name.lower()
        }
        sent.append((event_name.rsplit(".", 1)[-1], headers))

    adapter.client.meta.events.register("before-send.s3.*", record)
    return sent


@pytest.mark.parametrize("size", [10, 20 * MIB + 5], ids=["single", "multipart"])
def test_with_checksums_on_every_part_carries_a_crc32_the_service_stores(
    moto: MotoServer, s3_bucket: str, size: int
) -> None:
    adapter = with_checksums(moto, s3_bucket, "on")
    sent = checksum_headers(adapter)
    data = pieces(size)
    write(adapter, "checked", data, size_hint=1)
    checked = [operation for operation, headers in sent if "x-amz-checksum-crc32" in headers]
    assert checked == (["PutObject"] if size == 10 else ["UploadPart"] * 3)
    head = moto.client().head_object(Bucket=s3_bucket, Key="checked", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"]
    assert read(adapter, "checked") == b"".join(data)


def test_with_checksums_off_no_request_carries_checksum_headers(
    moto: MotoServer, s3_bucket: str
) -> None:
    adapter = with_checksums(moto, s3_bucket, "off")
    sent = checksum_headers(adapter)
    data = pieces(20 * MIB + 5)
    write(adapter, "plain", data, size_hint=1)
    write(adapter, "small", [b"x"])
    assert read(adapter, "plain") == b"".join(data)
    adapter.delete("small")
    # DeleteObjects is the one call the API requires a checksum for.
    assert [operation for operation, headers in sent if headers] == ["DeleteObjects"]
    head = moto.client().head_object(Bucket=s3_bucket, Key="plain", ChecksumMode="ENABLED")
    assert "ChecksumCRC32" not in head


@pytest.mark.slow
def test_a_200_mib_upload_keeps_memory_growth_under_40_mib(
    moto: MotoServer, s3_bucket: str
) -> None:
    config = adapter_config("s3", moto.url, s3_bucket)
    result = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, json.dumps(config), "200"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=os.getcwd(),
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"200 MiB upload: {figures}")
    assert figures["rss_growth_kib"] < 40 * 1024
    assert figures["traced_peak_kib"] < 40 * 1024
    size = moto.client().head_object(Bucket=s3_bucket, Key="big")["ContentLength"]
    assert size == 200 * MIB
    moto.client().delete_object(Bucket=s3_bucket, Key="big")
