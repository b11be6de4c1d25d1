"""The embedded mode's file-system broker: kombu's, with messages that appear whole.

kombu's file-system transport creates a message file and then writes into it, and a consumer
takes any file it lists: a worker that lists the folder between the two takes an empty file,
fails to parse it and stops ("Unrecoverable error: JSONDecodeError"). Here a message is written
under a name no consumer looks for and renamed into place when complete (a rename within one
folder is atomic), and a consumer claims a message by renaming it into the processed folder of
the same data directory before reading it, so two consumers never read the same file.
"""

from __future__ import annotations

import os
import uuid
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
