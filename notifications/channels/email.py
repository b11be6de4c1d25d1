"""E-mail over SMTP: STARTTLS, implicit TLS or plain, with optional login.

``security`` decides how the connection is protected:

- ``starttls``: a plain SMTP connection upgraded with STARTTLS before anything else is sent. A
  server that does not offer STARTTLS is an error: the message is never sent in clear instead.
- ``tls``: TLS from the first byte (SMTPS, usually port 465).
- ``none``: no encryption, for a relay on a trusted network.

With TLS the server's certificate is verified against the system's trust store and must match
``host``; a self-signed or mismatched certificate fails the delivery. Login happens only when
``username`` is set. ``timeout`` bounds the connection and every read and write on it.
"""

from __future__ import annotations

import email.policy
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import quote

from rest_framework import serializers

from core.registry import ConfigSchema
from notifications.channels.base import Channel, DeliveryError, DeliveryResult, Message

# Replies and error excerpts kept with a delivery attempt.
RESPONSE_LIMIT = 500
# Headers with RFC 2047 encoded words and a body in quoted-printable or base64 when it is not
# ASCII: the message is 7-bit clean and needs no 8BITMIME from the server.
_POLICY = email.policy.SMTP.clone(cte_type="7bit")


class EmailConfig(ConfigSchema):
    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535, default=587)
    security = serializers.ChoiceField(
        choices=[
            ("starttls", "STARTTLS (usually port 587)"),
            ("tls", "Implicit TLS (usually port 465)"),
            ("none", "None (a relay on a trusted network)"),
        ],
        default="starttls",
    )
    username = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    password = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    from_email = serializers.EmailField()
    to = serializers.ListField(child=serializers.EmailField(), min_length=1)


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", errors="replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:RESPONSE_LIMIT]


class EmailChannel(Channel):
    name = "email"
    label = "E-mail (SMTP)"
    config_schema = EmailConfig
    secret_fields = frozenset({"password"})

    # -- configuration -------------------------------------------------------------------

    @property
    def host(self) -> str:
        return str(self.config["host"])

    @property
    def port(self) -> int:
        return int(self.config.get("port") or 587)

    @property
    def security(self) -> str:
        return str(self.config.get("security") or "starttls")

    @property
    def username(self) -> str:
        return str(self.config.get("username") or "")

    @property
    def recipients(self) -> list[str]:
        return [str(address) for address in self.config.get("to") or []]

    def _ssl_context(self) -> ssl.SSLContext:
        """The TLS settings of a connection: the system's trust store, host name checked."""
        return ssl.create_default_context()

    # -- the message ---------------------------------------------------------------------

    def build(self, message: Message) -> EmailMessage:
        """The e-mail for ``message``. Its Message-ID is the notification's id, the same on
        every retry, so a mail client can recognise a message delivered twice."""
        sender = str(self.config["from_email"])
        mail = EmailMessage(policy=_POLICY)
        mail["Subject"] = f"[DataGuardian] {message.severity.upper()} {message.title}"
        mail["From"] = sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<{message.id}@{sender.rpartition('@')[2] or 'dataguardian'}>"
        # RFC 3834: no vacation auto-replies to an alert.
        mail["Auto-Submitted"] = "auto-generated"
        mail.set_content(message.text)
        return mail

    # -- sending -------------------------------------------------------------------------

    def send(self, message: Message) -> DeliveryResult:
        mail = self.build(message)
        try:
            return self._deliver(mail)
        except DeliveryError:
            raise
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"The SMTP server refused the login as {self.username!r}: "
                f"{exc.smtp_code} {self._scrub(exc.smtp_error)}",
                transient=False,
                code=exc.smtp_code,
                response=self._scrub(exc.smtp_error),
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(
                f"The SMTP server does not support what the channel needs: {self._scrub(exc)}",
                transient=False,
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise self._reply_error("The SMTP server refused the message", exc) from None
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, TimeoutError):  # smtplib's wording of a timeout
                raise self._timeout_error() from None
            raise DeliveryError(
                f"The SMTP server closed the connection: {self._scrub(exc) or 'no reason given'}",
                transient=True,
            ) from None
        except ssl.SSLError as exc:  # before OSError, which it subclasses
            raise DeliveryError(
                f"TLS handshake failed with {self.host}:{self.port}: {self._scrub(exc)}",
                transient=False,
            ) from None
        except TimeoutError:  # socket.timeout is an alias
            raise self._timeout_error() from None
        except ConnectionError as exc:
            raise DeliveryError(
                f"Could not talk to {self.host}:{self.port}: {self._scrub(exc)}", transient=True
            ) from None
        except OSError as exc:
            raise DeliveryError(
                f"Could not reach {self.host}:{self.port}: {self._scrub(exc)}", transient=True
            ) from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP error: {self._scrub(exc)}", transient=True) from None

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._ssl_context()
            )
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security == "starttls":
            try:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f"{self.host}:{self.port} does not offer STARTTLS, so nothing was sent "
                        "(for a relay that only speaks plain SMTP, choose security 'none')",
                        transient=False,
                    )
                smtp.starttls(context=self._ssl_context())
            except BaseException:
                smtp.close()
                raise
        return smtp

    def _deliver(self, mail: EmailMessage) -> DeliveryResult:
        sender = str(self.config["from_email"])
        smtp = self._connect()
        try:
            smtp.ehlo_or_helo_if_needed()
            if self.username:
                smtp.login(self.username, str(self.config.get("password") or ""))
            code, reply = smtp.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, sender)
            refused: dict[str, tuple[int, bytes]] = {}
            for recipient in self.recipients:
                code, reply = smtp.rcpt(recipient)
                if code not in (250, 251):
                    refused[recipient] = (code, reply)
            if len(refused) == len(self.recipients):
                raise self._refused_error(refused)
            code, reply = smtp.data(mail.as_bytes())
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
            response = _text(reply)
            if refused:
                # Sent to the others, as a mail client would; the refusals are on record.
                response = _text(f"{response}; refused: {self._describe(refused)}")
        except BaseException:
            smtp.close()  # no QUIT: after a timeout it would wait as long again
            raise
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
        return DeliveryResult(code=code, response=response)

    # -- errors --------------------------------------------------------------------------

    def _scrub(self, value: object) -> str:
        """``value`` as text for a message, never with the password in it."""
        text = _text(value if isinstance(value, bytes | str) else str(value))
        password = str(self.config.get("password") or "")
        return text.replace(password, "********") if password else text

    def _timeout_error(self) -> DeliveryError:
        return DeliveryError(
            f"No answer from {self.host}:{self.port} within {self.timeout:g} s", transient=True
        )

    @staticmethod
    def _transient(code: int) -> bool:
        return 400 <= code < 500

    def _reply_error(self, what: str, exc: smtplib.SMTPResponseException) -> DeliveryError:
        reply = self._scrub(exc.smtp_error)
        return DeliveryError(
            f"{what}: {exc.smtp_code} {reply}",
            transient=self._transient(exc.smtp_code),
            code=exc.smtp_code,
            response=reply,
        )

    def _describe(self, refused: dict[str, tuple[int, bytes]]) -> str:
        return ", ".join(f"{rcpt} ({code} {self._scrub(r)})" for rcpt, (code, r) in refused.items())

    def _refused_error(self, refused: dict[str, tuple[int, bytes]]) -> DeliveryError:
        codes = [code for code, _ in refused.values()]
        return DeliveryError(
            f"The SMTP server refused every recipient: {self._describe(refused)}",
            # Worth a retry only when every refusal is temporary (4xx: greylisting, full box).
            transient=all(self._transient(code) for code in codes),
            code=codes[0],
            response=_text(self._describe(refused)),
        )

    # -- the delivery log ----------------------------------------------------------------

    def target(self) -> str:
        user = f"{quote(self.username, safe='')}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"smtp://{user}{host}:{self.port} ({self.security}) -> {', '.join(self.recipients)}"

    def __repr__(self) -> str:
        return f"<EmailChannel {self.target()}>"
