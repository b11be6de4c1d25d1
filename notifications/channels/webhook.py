"""Webhooks: a JSON POST signed with the Standard Webhooks scheme.

The body is the message's payload as compact JSON with sorted keys. Every request carries
``webhook-id`` (the notification's id, the same on every retry, so a receiver can drop
duplicates), ``webhook-timestamp`` (Unix seconds) and, when a secret is configured,
``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of ``"<id>.<timestamp>.<body>"`` keyed with
the base64-decoded part of the secret after ``whsec_``, one per secret while rotating
(https://www.standardwebhooks.com/). The bytes signed are the bytes sent.

Redirects are not followed: a 3xx is an error that says where it pointed, so a request and its
signature never go to a host the operator did not configure. HTTPS certificates are verified
against the system's trust store. User and password in the URL are sent as HTTP Basic auth.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.client
import json
import re
import ssl
import time
import urllib.error
import urllib.request
from email.message import Message as HeaderMap
from typing import IO
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from rest_framework import serializers

from core.registry import ConfigSchema
from notifications.channels.base import Channel, DeliveryError, DeliveryResult, Message

# Body excerpts kept with a delivery attempt, in characters, and the bytes read to get them.
RESPONSE_LIMIT = 500
_READ_LIMIT = 4 * RESPONSE_LIMIT
MASK = "********"
SECRET_PREFIX = "whsec_"  # noqa: S105 (the prefix, not a secret)
# RFC 9110 token characters: what a header name may be made of.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Headers the channel sets itself and a configured line may not replace.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
        "user-agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


def parse_headers(text: str) -> list[tuple[str, str]]:
    """The ``Name: value`` lines of ``text``, blank lines skipped; ``ValueError`` names the
    first bad line by number, never by content (header values are secret)."""
    headers: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not _HEADER_NAME.fullmatch(name):
            raise ValueError(
                f"Line {number} is not a header: write 'Name: value', the name made of "
                "letters, digits and '-'."
            )
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"Line {number}: DataGuardian sets {name} itself.")
        if name.lower() in seen:
            raise ValueError(f"Line {number}: {name} is already set on line {seen[name.lower()]}.")
        if not value.isascii() or not value.isprintable():
            raise ValueError(f"Line {number}: a header value must be printable ASCII.")
        seen[name.lower()] = number
        headers.append((name, value))
    return headers


def parse_secrets(text: str) -> list[bytes]:
    """The HMAC keys of the space-separated ``whsec_…`` secrets in ``text``; ``ValueError``
    says which one is wrong by position, never by content."""
    keys: list[bytes] = []
    secrets = text.split()
    for position, secret in enumerate(secrets, start=1):
        which = f"Secret {position} of {len(secrets)}" if len(secrets) > 1 else "The secret"
        if not secret.startswith(SECRET_PREFIX):
            raise ValueError(f"{which} does not start with {SECRET_PREFIX}.")
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{which} is not base64 after {SECRET_PREFIX}.") from None
        if not key:
            raise ValueError(f"{which} is empty after {SECRET_PREFIX}.")
        keys.append(key)
    return keys


def signature(keys: list[bytes], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one ``v1,<base64>`` per key, separated by spaces."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )


def mask_url(url: str) -> str:
    """``url`` with its user/password and every query value replaced by ``********``;
    scheme, host, port and path are kept, the fragment (never sent) is dropped."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = "&".join(
        f"{piece.partition('=')[0]}={MASK}" if "=" in piece else MASK
        for piece in parts.query.split("&")
        if piece
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class WebhookConfig(ConfigSchema):
    url = serializers.URLField(max_length=2048)
    secret = serializers.CharField(
        max_length=2048,
        required=False,
        allow_blank=True,
        default="",
        help_text="whsec_… signing secret; several, separated by spaces, while rotating. "
        "Empty: requests are not signed.",
    )
    headers = serializers.CharField(
        max_length=8192,
        required=False,
        allow_blank=True,
        default="",
        help_text="Extra request headers, one 'Name: value' per line.",
    )

    def validate_url(self, value: str) -> str:
        if urlsplit(value).scheme.lower() not in ("http", "https"):
            raise serializers.ValidationError("Give an http:// or https:// URL.")
        return value

    def validate_secret(self, value: str) -> str:
        try:
            parse_secrets(value)
        except ValueError as exc:
            raise serializers.ValidationError(
                f"{exc} A secret is whsec_ followed by base64, for example "
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw; separate several with spaces."
            ) from None
        return " ".join(value.split())

    def validate_headers(self, value: str) -> str:
        try:
            parse_headers(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand every 3xx back as an ``HTTPError`` instead of following it."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HeaderMap,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


class WebhookChannel(Channel):
    name = "webhook"
    label = "Webhook (signed JSON POST)"
    config_schema = WebhookConfig
    secret_fields = frozenset({"secret", "headers"})

    @property
    def url(self) -> str:
        return str(self.config["url"])

    def _keys(self) -> list[bytes]:
        return parse_secrets(str(self.config.get("secret") or ""))

    def _secret_values(self) -> list[str]:
        """Every configured string that must not appear in an error or a log line."""
        values = str(self.config.get("secret") or "").split()
        values += [value for _, value in self._extra_headers() if len(value) >= 3]
        parts = urlsplit(self.url)
        if parts.password:
            values += [parts.password, unquote(parts.password)]
        values += [value for _, value in parse_qsl(parts.query) if len(value) >= 3]
        return sorted(values, key=len, reverse=True)

    def _extra_headers(self) -> list[tuple[str, str]]:
        try:
            return parse_headers(str(self.config.get("headers") or ""))
        except ValueError:
            return []

    def _scrub(self, text: str) -> str:
        for value in self._secret_values():
            text = text.replace(value, MASK)
        return text

    @staticmethod
    def body(message: Message) -> bytes:
        """The exact bytes POSTed (and signed) for ``message``."""
        return json.dumps(message.payload, separators=(",", ":"), sort_keys=True).encode()

    def request(self, message: Message, timestamp: int | None = None) -> urllib.request.Request:
        """The signed POST for ``message``; ``DeliveryError`` if the config cannot make one."""
        try:
            keys = self._keys()
            extra = parse_headers(str(self.config.get("headers") or ""))
        except ValueError as exc:
            raise DeliveryError(
                f"The channel's configuration is invalid: {exc}", transient=False
            ) from None
        parts = urlsplit(self.url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise DeliveryError("The webhook URL is not an http(s) URL.", transient=False)
        body = self.body(message)
        timestamp = int(time.time()) if timestamp is None else timestamp
        host = parts.netloc.rpartition("@")[2]
        try:
            request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
                urlunsplit((parts.scheme, host, parts.path or "/", parts.query, "")),
                data=body,
                method="POST",
            )
        except ValueError:
            raise DeliveryError("The webhook URL is not usable.", transient=False) from None
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", "DataGuardian")
        request.add_header("webhook-id", message.id)
        request.add_header("webhook-timestamp", str(timestamp))
        if keys:
            request.add_header("webhook-signature", signature(keys, message.id, timestamp, body))
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            request.add_header("Authorization", f"Basic {base64.b64encode(credentials).decode()}")
        for name, value in extra:
            request.add_header(name, value)
        return request

    def send(self, message: Message) -> DeliveryResult:
        request = self.request(message)
        opener = urllib.request.build_opener(_NoRedirects)
        try:
            with opener.open(request, timeout=self.timeout) as response:
                return DeliveryResult(code=response.status, response=self._excerpt(response))
        except urllib.error.HTTPError as exc:
            raise self._status_error(exc) from None
        except urllib.error.URLError as exc:
            raise self._network_error(exc.reason) from None
        except (OSError, http.client.HTTPException) as exc:
            raise self._network_error(exc) from None

    def _excerpt(self, response: IO[bytes]) -> str:
        try:
            data = response.read(_READ_LIMIT)
        except (OSError, http.client.HTTPException):
            return ""
        return self._scrub(data.decode("utf-8", errors="replace"))[:RESPONSE_LIMIT]

    def _status_error(self, exc: urllib.error.HTTPError) -> DeliveryError:
        code, excerpt = exc.code, self._excerpt(exc)
        exc.close()
        if 300 <= code < 400:
            location = exc.headers.get("Location", "")
            where = f"to {self._scrub(mask_url(location))}" if location else "without a Location"
            return DeliveryError(
                f"The webhook answered {code} {self._scrub(str(exc.reason))}, redirecting "
                f"{where}; redirects are "
                "not followed: configure the final URL.",
                transient=False,
                code=code,
                response=excerpt,
            )
        transient = code in (408, 429) or code >= 500
        return DeliveryError(
            f"The webhook answered {code} {self._scrub(str(exc.reason))}",
            transient=transient,
            code=code,
            response=excerpt,
        )

    def _network_error(self, reason: object) -> DeliveryError:
        where = urlsplit(self.url).netloc.rpartition("@")[2]
        if isinstance(reason, ssl.SSLError):
            return DeliveryError(
                f"TLS handshake failed with {where}: {self._scrub(str(reason))}", transient=False
            )
        if isinstance(reason, TimeoutError):
            return DeliveryError(
                f"No answer from {where} within {self.timeout:g} s", transient=True
            )
        return DeliveryError(f"Could not reach {where}: {self._scrub(str(reason))}", transient=True)

    def target(self) -> str:
        signed = " (signed)" if str(self.config.get("secret") or "").strip() else ""
        return self._scrub(mask_url(self.url)) + signed

    def __repr__(self) -> str:
        return f"<WebhookChannel {self.target()}>"
