"""The messages waiting in the tests' broker, read the same way from Redis (the server mode)
and from the file-system broker (the embedded mode).

A queue is named as the Redis transport names its lists: ``backups`` holds the messages of
priority 0 (or none), ``backups:5`` those of priority 5. The file-system broker keeps one file
per message and no priorities; its messages are told apart by the priority they carry.
Messages come oldest first.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import redis
from django.conf import settings


class Broker:
    """The tests' own broker: the REDIS_URL database, or the data directory's queue folder."""

    def __init__(self) -> None:
        self.url = settings.CELERY_BROKER_URL
        self.is_redis = self.url.startswith(("redis://", "rediss://"))
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        self.folder = None if self.is_redis else Path(options["data_folder_in"])

    def _redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def clear(self) -> None:
        if self.folder is None:
            self._redis().flushdb()
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for path in self.folder.glob("*.msg"):
            path.unlink(missing_ok=True)

    def messages(self, key: str) -> list[dict[str, Any]]:
        """The Celery messages waiting in ``key`` (``queue`` or ``queue:priority``)."""
        if self.folder is None:
            client = self._redis()
            return [json.loads(raw) for raw in reversed(client.lrange(key, 0, -1))]
        queue, _, priority = key.partition(":")
        wanted = int(priority) if priority else 0
        found = []
        for path in sorted(self.folder.glob(f"*.{queue}.msg")):
            message = json.loads(path.read_bytes())
            if (message.get("properties", {}).get("priority") or 0) == wanted:
                found.append(message)
        return found

    def count(self, key: str) -> int:
        return len(self.messages(key))

    def queues(self, prefix: str) -> list[str]:
        """The keys holding messages whose queue name starts with ``prefix``."""
        if self.folder is None:
            return sorted(k.decode() for k in self._redis().keys(f"{prefix}*"))  # type: ignore[union-attr]
        keys = set()
        for path in self.folder.glob("*.msg"):
            queue = path.name.split(".", 1)[1].removesuffix(".msg")
            if queue.startswith(prefix):
                priority = json.loads(path.read_bytes()).get("properties", {}).get("priority")
                keys.add(f"{queue}:{priority}" if priority else queue)
        return sorted(keys)

    def tasks(self, key: str) -> list[tuple[str, list[Any]]]:
        """(task name, positional arguments) of each message waiting in ``key``."""
        return [
            (m["headers"]["task"], list(ast.literal_eval(m["headers"]["argsrepr"])))
            for m in self.messages(key)
        ]
