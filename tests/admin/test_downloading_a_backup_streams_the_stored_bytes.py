"""A download streams the stored artifact: all chunks joined in order, or one chunk."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import cast

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from tests.support.jobs import artifact_dir

pytestmark = pytest.mark.django_db


def _body(response) -> bytes:
    assert isinstance(response, StreamingHttpResponse)  # never read whole into memory
    return b"".join(cast(Iterator[bytes], response.streaming_content))


def test_the_joined_download_is_every_chunk_in_order(admin_client, files_backup):
    chunks = list(files_backup.chunks.order_by("chunk_number"))
    assert len(chunks) >= 3
    url = reverse("admin:executions_backupexecution_download", args=[files_backup.pk])
    response = admin_client.get(url)
    body = _body(response)
    assert response["Content-Length"] == str(len(body))
    assert hashlib.sha256(body).hexdigest() == files_backup.metadata["checksum"]
    assert body == b"".join(
        (artifact_dir(files_backup) / chunk.file_path.rsplit("/", 1)[-1]).read_bytes()
        for chunk in chunks
    )


def test_each_chunk_downloads_on_its_own(admin_client, files_backup):
    for chunk in files_backup.chunks.all():
        url = reverse(
            "admin:executions_backupexecution_download_part",
            args=[files_backup.pk, chunk.chunk_number],
        )
        assert hashlib.sha256(_body(admin_client.get(url))).hexdigest() == chunk.checksum


def test_the_manifest_downloads(admin_client, files_backup):
    url = reverse(
        "admin:executions_backupexecution_download_part", args=[files_backup.pk, "manifest"]
    )
    body = _body(admin_client.get(url))
    assert body == (artifact_dir(files_backup) / "manifest.json").read_bytes()


def test_the_chunks_inline_links_each_part(admin_client, files_backup):
    page = reverse("admin:executions_backupexecution_change", args=[files_backup.pk])
    html = admin_client.get(page).content.decode()
    for chunk in files_backup.chunks.all():
        assert chunk.checksum in html
        assert f"id='download-chunk-{chunk.chunk_number}'" in html
