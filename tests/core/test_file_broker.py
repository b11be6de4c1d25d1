"""The embedded mode's file-system broker under concurrent producers and consumers: every
message arrives once and whole, and a message being written is never taken."""

from __future__ import annotations

import threading
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection

from dataguardian.filebroker import PARTIAL, Transport

MESSAGES = 400


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

    def produce(offset: int) -> None:
        with _connection(tmp_path) as conn:
            queue = conn.SimpleQueue("work")
            for n in range(offset, offset + MESSAGES):
                queue.put({"n": n, "pad": "x" * 2000})

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
    producers = [threading.Thread(target=produce, args=(i * MESSAGES,)) for i in range(2)]
    for thread in consumers + producers:
        thread.start()
    for thread in producers:
        thread.join(timeout=120)
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
