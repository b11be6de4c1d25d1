"""The embedded mode's file-system broker: kombu's, with messages that appear whole.

kombu's file-system transport creates a message file and then writes into it, and a consumer
takes any file it lists: a worker that lists the folder between the two takes an empty file,
fails to parse it and stops ("Unrecoverable error: JSONDecodeError"). Here a message is written
under a name no consumer looks for and renamed into place when complete (a rename within one
folder is atomic), and a consumer claims a message by renaming it into the processed folder of
the same data directory before reading it, so two consumers never read the same file.

Queue bindings (the control folder's ``<exchange>.exchange`` tables) have the same race: kombu
truncates the table and then writes it, so a process sending a message while another declares
its queues could read an empty table and fail. Here a binding rewrites the table whole under a
lock file and renames it into place, so a reader sees the old table or the new one.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps, loads

#: Appended to a message's name while it is written; consumers match names ending ``.msg``.
PARTIAL = ".part"


class Channel(filesystem.Channel):
    # kombu names the argument "payload" here and "message" in the virtual base class.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        try:
            with open(final + PARTIAL, "wb") as handle:
                handle.write(dumps(payload).encode())
            os.replace(final + PARTIAL, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add message {name!r} to the queue folder") from exc

    def _queue_bind(
        self, exchange: str, routing_key: str | None, pattern: str | None, queue: str | None
    ) -> None:
        # kombu's own check that the exchange names a file of the control folder (the stubs
        # predate it).
        table_file: Path = self._exchange_file(exchange)  # type: ignore[attr-defined]
        self.control_folder.mkdir(exist_ok=True)
        entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            with open(table_file.with_name(table_file.name + ".lock"), "a") as guard:
                fcntl.flock(guard, fcntl.LOCK_EX)  # one writer at a time; readers never wait
                table = self.get_table(exchange)
                if entry in table:
                    return
                partial = table_file.with_name(table_file.name + PARTIAL)
                partial.write_bytes(dumps([entry, *table]).encode())
                os.replace(partial, table_file)
        except OSError as exc:
            raise ChannelError(f"Cannot bind queue {queue!r} in {table_file}") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.processed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer took it
            try:
                with open(claimed, "rb") as handle:
                    payload = handle.read()
                if not self.store_processed:
                    os.remove(claimed)
            except OSError as exc:
                raise ChannelError(f"Cannot read message {name!r} from the queue") from exc
            return loads(payload.decode())
        raise Empty()


class Transport(filesystem.Transport):
    Channel = Channel
