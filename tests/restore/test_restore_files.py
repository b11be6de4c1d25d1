"""Restores of SQLite files and directory trees, including archives built to escape."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import sqlite3
import tarfile
from pathlib import Path

import pytest

from executions.models import BackupExecution
from executions.restore import perform_restore, restore_execution
from tests.support.jobs import artifact_dir, rewrite_manifest

pytestmark = pytest.mark.django_db
OLD = 1_500_000_000  # a fixed mtime in the past


def _restore(backup, **kwargs) -> BackupExecution:
    execution = restore_execution(backup, options=kwargs.pop("options", {}), **kwargs)
    perform_restore(execution)
    execution.refresh_from_db()
    return execution


def _tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry below ``root``: type, permission bits, mtime, content hash or link."""
    out: dict[str, tuple[object, ...]] = {}
    for directory, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(directory) / name
            info = path.lstat()
            rel = str(path.relative_to(root))
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", oct(info.st_mode & 0o777), int(info.st_mtime))
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                out[rel] = ("file", oct(info.st_mode & 0o777), int(info.st_mtime), digest)
    return out


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "img" / "thumbs").mkdir(parents=True)
    (root / "img" / "a.jpg").write_bytes(os.urandom(300_000))
    (root / "img" / "thumbs" / "a.jpg").write_bytes(os.urandom(2_000))
    (root / "index.html").write_text("<h1>hi</h1>")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "shared.txt").write_text("group writable")
    (root / "latest.jpg").symlink_to("img/a.jpg")
    os.chmod(root / "run.sh", 0o755)  # noqa: S103 - the modes under test
    os.chmod(root / "shared.txt", 0o664)
    os.chmod(root / "index.html", 0o600)
    os.chmod(root / "img" / "thumbs", 0o750)  # noqa: S103
    for i, path in enumerate(sorted(root.rglob("*"), key=lambda p: -len(p.parts))):
        if not path.is_symlink():
            os.utime(path, (OLD + i * 1000, OLD + i * 1000))
    return root


def test_a_files_backup_restores_the_tree_with_modes_and_mtimes(backup_of, site, tmp_path):
    backup = backup_of("files", {"source_path": str(site)}, compression="lz4")
    target = tmp_path / "restored"
    restore = _restore(backup, target_path=str(target), confirm=False)
    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    assert _tree(target) == _tree(site)
    assert restore.files_count == 5  # regular files; the symlink is not counted


def test_a_files_restore_keeps_existing_files_unless_overwrite(backup_of, site, tmp_path):
    backup = backup_of("files", {"source_path": str(site)})
    target = tmp_path / "restored"
    target.mkdir()
    (target / "index.html").write_text("local edit")
    restore = _restore(backup, target_path=str(target), confirm=True)
    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    assert (target / "index.html").read_text() == "local edit"
    assert restore.metadata["kept_existing"] == ["index.html"]
    assert (target / "img" / "a.jpg").read_bytes() == (site / "img" / "a.jpg").read_bytes()


def test_a_files_restore_with_overwrite_replaces_existing_files(backup_of, site, tmp_path):
    backup = backup_of("files", {"source_path": str(site)})
    target = tmp_path / "restored"
    target.mkdir()
    (target / "index.html").write_text("local edit")
    restore = _restore(backup, target_path=str(target), confirm=True, options={"overwrite": True})
    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    assert (target / "index.html").read_text() == "<h1>hi</h1>"


def test_a_sqlite_backup_restores_over_its_datasource(backup_of, tmp_path):
    source = tmp_path / "app.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t (v) VALUES (?)", [(f"row {i}",) for i in range(5000)])
    conn.close()
    backup = backup_of("sqlite", {"file_path": str(source)}, compression="gzip")
    with sqlite3.connect(source) as conn:
        conn.execute("DELETE FROM t WHERE id > 10")
    conn.close()
    restore = _restore(backup, confirm=True)
    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    with sqlite3.connect(source) as conn:
        assert conn.execute("SELECT count(*), max(v) FROM t").fetchone() == (5000, "row 999")
    conn.close()
    assert [p.name for p in tmp_path.iterdir() if ".restoring-" in p.name] == []


def _replace_artifact(backup: BackupExecution, data: bytes) -> None:
    """Swap the stored artifact for ``data`` with consistent checksums everywhere, as an
    attacker who controls the storage could."""
    directory = artifact_dir(backup)
    manifest = json.loads((directory / "manifest.json").read_text())
    name = manifest["chunks"][0]["name"]
    digest = hashlib.sha256(data).hexdigest()
    (directory / name).write_bytes(data)
    manifest["chunks"] = [{"number": 1, "name": name, "size": len(data), "sha256": digest}]
    manifest["sha256"] = digest
    rewrite_manifest(backup, json.dumps(manifest))
    (directory / "SHA256SUMS").write_text(f"{digest}  {name}\n")
    backup.chunks.all().delete()
    backup.chunks.create(
        chunk_number=1,
        file_path=f"{backup.backup_path}/{name}",
        size_bytes=len(data),
        checksum=digest,
    )


def _add(tar: tarfile.TarFile, name: str, **fields) -> None:
    content = fields.pop("content", b"")
    info = tarfile.TarInfo(name)
    for key, value in fields.items():
        setattr(info, key, value)
    if info.isfile():
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    else:
        tar.addfile(info)


def test_a_malicious_archive_writes_nothing_outside_the_target(backup_of, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "ok.txt").write_text("fine")
    backup = backup_of("files", {"source_path": str(source)}, compression="none")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep me")
    etc_name = f"dg-restore-probe-{secrets.token_hex(4)}"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "ok.txt", content=b"fine")
        _add(tar, "../escaped.txt", content=b"up")
        _add(tar, str(tmp_path / "absolute.txt"), content=b"abs")
        _add(tar, "etc", type=tarfile.SYMTYPE, linkname="/etc")
        _add(tar, f"etc/{etc_name}", content=b"through the link")
        _add(tar, "out", type=tarfile.SYMTYPE, linkname="../outside")
        _add(tar, "out/secret", content=b"overwritten")
        _add(tar, "d/up", type=tarfile.SYMTYPE, linkname="..")
        _add(tar, "sneaky", type=tarfile.SYMTYPE, linkname="d/up/..")
        _add(tar, "hard", type=tarfile.LNKTYPE, linkname="../outside/secret")
        _add(tar, "hard_abs", type=tarfile.LNKTYPE, linkname=str(outside / "secret"))
        _add(tar, "pipe", type=tarfile.FIFOTYPE)
        _add(tar, "dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3)
    _replace_artifact(backup, buffer.getvalue())
    target = tmp_path / "target"
    before = sorted(p.name for p in tmp_path.iterdir())
    try:
        restore = _restore(backup, target_path=str(target), confirm=True)
        assert not Path("/etc", etc_name).exists()
    finally:
        Path("/etc", etc_name).unlink(missing_ok=True)
    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*before, "target"])
    assert (outside / "secret").read_text() == "keep me"
    assert os.stat(outside / "secret").st_nlink == 1
    assert (target / "ok.txt").read_text() == "fine"
    for path in target.rglob("*"):
        real = os.path.realpath(path)
        assert os.path.commonpath([str(target), real]) == str(target), path
        assert path.is_symlink() or path.is_dir() or path.is_file()
    print(restore.metadata["skipped_entries"])
    assert restore.metadata["skipped_count"] >= 8


def _backup_holding_a_hard_link_through(backup_of, tmp_path: Path, link: str) -> BackupExecution:
    """A files backup whose archive holds ``d/victim.txt``, a symlink ``s`` to ``link``, the
    hard link ``h`` to ``s/victim.txt`` and ``ok.txt``."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "ok.txt").write_text("fine")
    backup: BackupExecution = backup_of("files", {"source_path": str(source)}, compression="none")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "d", type=tarfile.DIRTYPE, mode=0o755)
        _add(tar, "d/victim.txt", content=b"mine")
        _add(tar, "s", type=tarfile.SYMTYPE, linkname=link)
        _add(tar, "h", type=tarfile.LNKTYPE, linkname="s/victim.txt")
        _add(tar, "ok.txt", content=b"fine")
    _replace_artifact(backup, buffer.getvalue())
    return backup


@pytest.mark.parametrize("link", ["/etc", "../outside"])
def test_a_hard_link_to_a_file_behind_a_skipped_link_is_skipped_by_name_and_the_rest_restores(
    backup_of, tmp_path, link
):
    """Fault: a hard link whose target sits behind a symlink the restore refused used to fail
    the whole restore with ``KeyError: "linkname 's/victim.txt' not found"``."""
    backup = _backup_holding_a_hard_link_through(backup_of, tmp_path, link)
    target = tmp_path / "target"

    restore = _restore(backup, target_path=str(target), confirm=True)

    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    skipped = restore.metadata["skipped_entries"]
    assert "h: hard link to 's/victim.txt', which is not a file this restore wrote" in skipped
    assert restore.metadata["skipped_count"] == 2  # the link s and the hard link h
    assert (target / "ok.txt").read_text() == "fine"
    assert (target / "d" / "victim.txt").read_text() == "mine"
    assert not (target / "h").exists()
    assert not (target / "s").is_symlink()


def test_a_hard_link_through_a_link_inside_the_restore_is_made(backup_of, tmp_path):
    backup = _backup_holding_a_hard_link_through(backup_of, tmp_path, "d")
    target = tmp_path / "target"

    restore = _restore(backup, target_path=str(target), confirm=True)

    assert restore.status == BackupExecution.Status.COMPLETED, restore.error_message
    assert restore.metadata["skipped_entries"] == []
    assert os.stat(target / "h").st_ino == os.stat(target / "d" / "victim.txt").st_ino
