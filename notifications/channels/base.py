"""The contract every notification channel declares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from core.registry import Strategy


@dataclass(frozen=True)
class Message:
    """One notification as a channel sends it.

    ``id`` is the notification's id (a webhook's ``webhook-id``: the same on every retry);
    ``text`` is a plain-text body for people (mail, chat), ``payload`` the JSON event for
    machines (webhooks, ``json://``). Nothing in either is secret: messages are built from the
    notification's secret-free title, message and metadata.
    """

    id: str
    type: str
    severity: str
    title: str
    text: str
    payload: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""


@dataclass(frozen=True)
class DeliveryResult:
    """What the receiving end answered: an HTTP status or an SMTP reply code, and a bounded,
    secret-free excerpt of the answer."""

    code: int | None = None
    response: str = ""


class DeliveryError(Exception):
    """A delivery that did not go through. ``transient`` errors (timeouts, refused
    connections, 5xx, 429, SMTP 4xx) are retried; the others (4xx, SMTP 5xx, bad address)
    are not. The message is secret-free."""

    def __init__(
        self, message: str, *, transient: bool, code: int | None = None, response: str = ""
    ) -> None:
        super().__init__(message)
        self.transient = transient
        self.code = code
        self.response = response


class Channel(Strategy):
    """A way to reach the operator. Subclasses set ``name``, ``label``, ``config_schema`` and
    ``secret_fields`` (encrypted at rest, write-only in the API, masked in ``target``)."""

    # Seconds one attempt may take, connection included, before it fails as transient.
    default_timeout: ClassVar[float] = 10.0

    def __init__(self, config: dict[str, Any], timeout: float | None = None) -> None:
        self.config = config
        self.timeout = self.default_timeout if timeout is None else timeout

    def send(self, message: Message) -> DeliveryResult:
        """Deliver ``message`` within ``timeout`` seconds, or raise ``DeliveryError``."""
        raise NotImplementedError

    def target(self) -> str:
        """Where this channel sends, for the delivery log, with every secret masked."""
        raise NotImplementedError
