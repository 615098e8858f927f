"""smtplib's exception classes (same hierarchy, same attributes), the ones the component
adds, and the one mapping from a WIT `smtp-error` to a Python exception."""

from __future__ import annotations

import ssl
from typing import Any

from wasmtime.component import Variant


class SMTPException(OSError):
    """Base class for all exceptions raised by this module."""

    #: The WIT `smtp-error` case this exception came from (None when raised here).
    kind: Any = None


class SMTPNotSupportedError(SMTPException):
    """The command or option is not supported by the SMTP server."""


class SMTPServerDisconnected(SMTPException):
    """The server unexpectedly disconnected, or the client is not connected yet."""


class SMTPResponseException(SMTPException):
    """The server returned an error code: `smtp_code` and `smtp_error` (bytes)."""

    def __init__(self, code, msg):
        self.smtp_code = code
        self.smtp_error = msg
        self.args = (code, msg)


class SMTPSenderRefused(SMTPResponseException):
    """The sender was refused; `sender` is the address as given."""

    def __init__(self, code, msg, sender):
        self.smtp_code = code
        self.smtp_error = msg
        self.sender = sender
        self.args = (code, msg, sender)


class SMTPRecipientsRefused(SMTPException):
    """Every recipient was refused; `recipients` maps each to its (code, msg)."""

    def __init__(self, recipients):
        self.recipients = recipients
        self.args = (recipients,)


class SMTPDataError(SMTPResponseException):
    """The SMTP server did not accept the data."""


class SMTPConnectError(SMTPResponseException):
    """The server's greeting was not 220."""


class SMTPHeloError(SMTPResponseException):
    """The server refused our HELO (and EHLO)."""


class SMTPAuthenticationError(SMTPResponseException):
    """The server did not accept the username/password combination."""


class SMTPMalformedReply(SMTPResponseException):
    """The server's reply broke the SMTP grammar (the component closed the connection).
    `smtp_code` is -1, as smtplib uses for a reply it cannot parse."""

    def __init__(self, msg):
        super().__init__(-1, msg)


class SMTPDeliveryUnknown(SMTPException):
    """The whole message was sent, then the connection was lost or the reply came
    garbled: it may or may not have been delivered. Do not resend it blindly."""


def reply_tuple(reply) -> tuple:
    """A WIT `reply` as smtplib's `(code, message)` pair, the message as bytes."""
    return (reply.code, reply.text.encode("utf-8", "surrogateescape"))


def from_wit(err: Variant) -> BaseException:
    """The Python exception for one WIT `smtp-error` value."""
    tag, val = err.tag, err.payload
    exc: BaseException
    if tag == "server-disconnected":
        exc = SMTPServerDisconnected(val)
    elif tag == "response":
        exc = SMTPResponseException(*reply_tuple(val))
    elif tag == "sender-refused":
        exc = SMTPSenderRefused(*reply_tuple(val.reply), val.sender)
    elif tag == "recipients-refused":
        exc = SMTPRecipientsRefused({r.recipient: reply_tuple(r.reply) for r in val})
    elif tag == "data-error":
        exc = SMTPDataError(*reply_tuple(val))
    elif tag == "connect-error":
        exc = SMTPConnectError(*reply_tuple(val))
    elif tag == "helo-error":
        exc = SMTPHeloError(*reply_tuple(val))
    elif tag == "not-supported":
        exc = SMTPNotSupportedError(val)
    elif tag == "authentication-error":
        exc = SMTPAuthenticationError(*reply_tuple(val))
    elif tag == "timeout":
        exc = TimeoutError(val)  # socket.timeout, as smtplib raises
    elif tag == "tls":
        exc = ssl.SSLError(val)
    elif tag == "io":
        exc = OSError(val)
    elif tag == "invalid-argument":
        exc = ValueError(val)
    elif tag == "malformed-reply":
        exc = SMTPMalformedReply(val.encode("utf-8", "surrogateescape"))
    elif tag == "delivery-unknown":
        exc = SMTPDeliveryUnknown(val)
    else:  # a case added by a newer component: still an SMTP error, with its text
        exc = SMTPException(f"{tag}: {val!r}")
    try:
        exc.kind = tag
    except AttributeError:
        pass
    return exc
