"""The embedded mode's file-system broker under concurrent producers and consumers, each
declaring the queue as a worker does at start: every message arrives once and whole, and a
message being written is never taken.

The producers are processes of their own, as the web server and beat are: kombu keeps the
bindings a process declared in memory shared by all its connections, so threads of one process
would not each write the control folder's table as separate processes do."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection

from dataguardian.filebroker import PARTIAL, Transport

MESSAGES = 400
ROOT = Path(__file__).resolve().parents[2]
PRODUCER = """
import sys
from pathlib import Path
from tests.core.test_file_broker import MESSAGES, _connection
folder, offset = Path(sys.argv[1]), int(sys.argv[2])
with _connection(folder) as conn:
    queue = conn.SimpleQueue("work")
    for n in range(offset, offset + MESSAGES):
        queue.put({"n": n, "pad": "x" * 2000})
"""


def _connection(folder: Path) -> Connection:
    for name in ("queue", "processed", "control"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    return Connection(
        "filesystem://localhost//",
        transport=Transport,
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
    )


def test_messages_from_two_producers_reach_two_consumers_once_and_whole(tmp_path):
    received: list[int] = []
    errors: list[BaseException] = []
    producing = threading.Event()
    producing.set()

    def consume() -> None:
        try:
            with _connection(tmp_path) as conn:
                queue = conn.SimpleQueue("work")
                while True:
                    try:
                        message = queue.get(timeout=0.05)
                    except Empty:
                        if not producing.is_set():
                            return
                        continue
                    assert message.payload["pad"] == "x" * 2000
                    received.append(message.payload["n"])
                    message.ack()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    consumers = [threading.Thread(target=consume) for _ in range(2)]
    for thread in consumers:
        thread.start()
    producers = [
        subprocess.Popen(
            [sys.executable, "-c", PRODUCER, str(tmp_path), str(i * MESSAGES)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for producer in producers:
        _, err = producer.communicate(timeout=120)
        assert producer.returncode == 0, err
    producing.clear()
    for thread in consumers:
        thread.join(timeout=120)

    assert errors == []
    assert sorted(received) == list(range(2 * MESSAGES))
    assert list((tmp_path / "queue").iterdir()) == []
    assert list((tmp_path / "processed").iterdir()) == []


def test_a_message_still_being_written_is_not_taken(tmp_path):
    with _connection(tmp_path) as conn:
        (tmp_path / "queue" / f"1_abc.work.msg{PARTIAL}").write_bytes(b"")
        with pytest.raises(Empty):
            conn.SimpleQueue("work").get(timeout=0.2)
