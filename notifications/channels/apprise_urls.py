"""Chat and push services through Apprise URLs (Slack, Discord, Telegram, Teams, ntfy, Gotify,
Matrix, Pushover, …).

Each non-empty line of ``urls`` is one Apprise URL; a send notifies all of them, and fails (as
a transient error: Apprise does not say whether a retry could help) when any of them fails,
with what Apprise logged about it, every configured URL and token masked out. A retry sends to
every URL again.

The channel's ``timeout`` bounds a send three ways: it is each service's connect and read
timeout (what the ``cto`` and ``rto`` URL arguments set), each service's time budget
(``AppriseAsset(service_timeout=…)``) and the deadline of the whole ``notify()`` call, after
which Apprise stops waiting and reports the services still running as timed out.

Apprise's own log lines go through a filter on its logger: its debug and trace lines (which
print URLs with their tokens, the trace ones unpacked, passwords included) are dropped, and in
the others every secret part of the URLs being loaded or notified is masked.

Apprise is imported on first use, not with this module: the model's type choices load every
channel class, and most processes never send a notification.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from rest_framework import serializers

from core.registry import ConfigSchema
from notifications.channels.base import Channel, DeliveryError, DeliveryResult, Message

if TYPE_CHECKING:
    import apprise

MASK = "********"
ERROR_LIMIT = 500
# Severity -> Apprise's NotifyType value.
NOTIFY_TYPES = {"info": "info", "warning": "warning", "critical": "failure"}
# A host that is a host (a DNS name with a dot, an IP, localhost), not a token in its place.
_HOST = re.compile(r"(?i)(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+\.?|\[[0-9a-f:.]+\])(:\d{1,5})?")


def url_lines(text: str) -> list[tuple[int, str]]:
    """``(line number, URL)`` for each non-empty line of ``text``."""
    return [
        (number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()
    ]


def _scheme(url: str) -> str:
    scheme, separator, _ = url.partition("://")
    return scheme.lower() if separator and re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*", scheme) else ""


def secret_parts(url: str) -> set[str]:
    """Everything in ``url`` that may be a secret: the whole URL, user and password, a host
    that is not a host name (Telegram's bot token, Slack's and Discord's ids), every path
    segment and every query value, as written and URL-decoded."""
    parts = {url}
    rest = url.partition("://")[2] if _scheme(url) else url
    rest, _, query = rest.partition("?")
    rest = rest.partition("#")[0]
    netloc, _, path = rest.partition("/")
    userinfo, _, hostport = netloc.rpartition("@")
    if userinfo:
        parts |= {userinfo, *userinfo.split(":")}
    if hostport and not _HOST.fullmatch(hostport):
        parts |= {hostport, *hostport.split(":")}
    parts |= set(path.split("/"))
    parts |= {value for _, value in parse_qsl(query, keep_blank_values=True)}
    parts |= {unquote(part) for part in parts}
    # Shorter fragments would mask ordinary words in what Apprise logged.
    return {part for part in parts if len(part) >= 3}


def mask(text: str, urls: list[str]) -> str:
    """``text`` with every secret part of ``urls`` replaced by ``********``."""
    secrets = sorted({part for url in urls for part in secret_parts(url)}, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


# The URLs of the load or send in progress; Apprise runs services in worker threads with a copy
# of the caller's context, so their log lines see these too.
_IN_USE: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "apprise_urls_in_use", default=()
)


class AppriseLogFilter(logging.Filter):
    """Drops Apprise's debug and trace lines and masks the URLs in use in the others."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return False
        urls = _IN_USE.get()
        if urls:
            message = record.getMessage()
            masked = mask(message, list(urls))
            if masked != message:
                record.msg, record.args = masked, None
        return True


@cache
def _filter_apprise_logs() -> None:
    """Put the filter on Apprise's logger (once, before Apprise logs anything).

    The logger's level is set here too: a delivery's error is read back from Apprise's
    warnings, which must not depend on the root level (a worker started with ``-l error``
    would otherwise hide them)."""
    logger = logging.getLogger("apprise")
    logger.setLevel(logging.WARNING)
    if not any(isinstance(f, AppriseLogFilter) for f in logger.filters):
        logger.addFilter(AppriseLogFilter())


@contextmanager
def urls_in_use(urls: list[str]) -> Iterator[None]:
    """Mask ``urls`` in Apprise's log lines while the block runs."""
    token = _IN_USE.set(tuple(urls))
    try:
        yield
    finally:
        _IN_USE.reset(token)


def _asset(timeout: float | None = None) -> apprise.AppriseAsset:
    """Apprise's settings for one load or send; every use of Apprise starts here."""
    _filter_apprise_logs()
    import apprise

    # secure_logging (the default) keeps Apprise's own log lines free of URL secrets too.
    if timeout is None:
        return apprise.AppriseAsset(secure_logging=True)
    return apprise.AppriseAsset(secure_logging=True, service_timeout=timeout)


def load(number: int, url: str, asset: apprise.AppriseAsset) -> apprise.NotifyBase:
    """The Apprise service for ``url`` (line ``number``), or ``ValueError`` saying why not,
    naming the line but never the URL, which holds the service's tokens."""
    import apprise

    try:
        service = apprise.Apprise.instantiate(url, asset=asset)
    except Exception:  # a plugin that raises on odd input is a URL it does not understand
        service = None
    if service is not None:
        return service
    scheme = _scheme(url)
    if not scheme:
        raise ValueError(f"Line {number} is not a URL (service://…).")
    if not _known(scheme):
        raise ValueError(f"Line {number}: {scheme}:// is not a service Apprise knows.")
    raise ValueError(
        f"Line {number}: Apprise cannot use this {scheme}:// URL (a part is missing or "
        "malformed; see the service's page at https://appriseit.com)."
    )


def _known(scheme: str) -> bool:
    """Whether an Apprise plugin serves ``scheme://`` (the plugin manager is not annotated)."""
    import apprise

    plugins: Any = apprise.NotificationManager
    return scheme in plugins()


def _privacy_url(service: apprise.NotifyBase) -> str:
    # URLBase.url() is not annotated.
    return str(cast(Any, service).url(privacy=True))


class AppriseConfig(ConfigSchema):
    urls = serializers.CharField(
        max_length=8192,
        help_text="One Apprise URL per line, e.g. ntfy://ntfy.example.org/backups or "
        "tgram://bot-token/chat-id.",
    )

    def validate_urls(self, value: str) -> str:
        lines = url_lines(value)
        if not lines:
            raise serializers.ValidationError("Give at least one Apprise URL, one per line.")
        asset = _asset()
        with urls_in_use([url for _, url in lines]):
            for number, url in lines:
                try:
                    load(number, url, asset)
                except ValueError as exc:
                    raise serializers.ValidationError(str(exc)) from None
        return "\n".join(url for _, url in lines)


class AppriseChannel(Channel):
    name = "apprise"
    label = "Apprise (chat and push services)"
    config_schema = AppriseConfig
    secret_fields = frozenset({"urls"})

    def _lines(self) -> list[tuple[int, str]]:
        return url_lines(str(self.config.get("urls") or ""))

    def _mask(self, text: str) -> str:
        return mask(text, [url for _, url in self._lines()])

    def send(self, message: Message) -> DeliveryResult:
        lines = self._lines()
        if not lines:
            raise DeliveryError("The channel has no Apprise URL.", transient=False)
        with urls_in_use([url for _, url in lines]):
            return self._notify(message, lines)

    def _notify(self, message: Message, lines: list[tuple[int, str]]) -> DeliveryResult:
        asset = _asset(self.timeout)
        import apprise

        notifier = apprise.Apprise(asset=asset)
        numbers: list[int] = []
        for number, url in lines:
            try:
                service = load(number, url, asset)
            except ValueError as exc:
                raise DeliveryError(str(exc), transient=False) from None
            service.socket_connect_timeout = self.timeout
            service.socket_read_timeout = self.timeout
            notifier.add(service)
            numbers.append(number)
        result = notifier.notify(
            body=message.text or message.title,
            title=message.title,
            notify_type=apprise.NotifyType(NOTIFY_TYPES.get(message.severity, "info")),
            body_format=apprise.NotifyFormat.TEXT,
            timeout=self.timeout,
            log_level=logging.WARNING,
        )
        with result:
            outcomes = list(zip(numbers, result.results, strict=False))
            if result:
                delivered = ", ".join(f"line {n}: {r.name}" for n, r in outcomes)
                return DeliveryResult(response=self._mask(f"Delivered ({delivered})")[:ERROR_LIMIT])
            raise DeliveryError(self._failure(result, outcomes, len(numbers)), transient=True)

    def _failure(
        self,
        result: apprise.AppriseResult,
        outcomes: list[tuple[int, apprise.NotifyResult]],
        total: int,
    ) -> str:
        import apprise

        timed_out = apprise.AppriseResultStatus.TIMEOUT
        failed = []
        for number, outcome in outcomes:
            if outcome:
                continue
            if outcome.status == timed_out:
                why = f"no answer within {self.timeout:g} s"
            else:
                why = "; ".join(entry.message for entry in outcome.logs()) or "failed"
            failed.append(f"line {number} ({outcome.name}): {why}")
        if not failed:  # the call failed before any service ran
            failed = [entry.message for entry in result.call_logs()] or [result.status.name]
        text = f"Apprise could not deliver to {len(failed)} of {total}: " + " | ".join(failed)
        return self._mask(" ".join(text.split()))[:ERROR_LIMIT]

    def target(self) -> str:
        lines = self._lines()
        with urls_in_use([url for _, url in lines]):
            return ", ".join(self._shown(number, url) for number, url in lines)

    @staticmethod
    def _shown(number: int, url: str) -> str:
        """Scheme and host of line ``number``, never its path, query, user or password."""
        try:
            parts = urlsplit(_privacy_url(load(number, url, _asset())))
        except ValueError:
            return f"line {number}: not understood"
        host = parts.netloc.rpartition("@")[2]
        if not _HOST.fullmatch(host):
            # A token where the host goes (Apprise shows it as "1...H"), or a name without a
            # dot, which could be one.
            host = MASK
        return f"{parts.scheme}://{host}/…"

    def __repr__(self) -> str:
        return f"<AppriseChannel {self.target()}>"
