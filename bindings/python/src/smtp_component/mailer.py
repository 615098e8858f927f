"""The component's `mailer` interface in Python style: build a message from its parts and
send it in one call.

    from smtp_component import mailer

    delivery = mailer.send(
        mailer.Transport("smtp.example.com", user="me", password="secret"),
        mailer.Mail(from_addr="me@example.com", to=["you@example.com"],
                    subject="Hello", text="Hi!", html="<p>Hi!</p>"))

Every behaviour (MIME building, DKIM, DSN, REQUIRETLS, TLS, AUTH, the protocol) comes
from the component; this module converts dataclasses to WIT records, the WIT `delivery`
back to a `Delivery`, and raises the package's exceptions (see `_errors.from_wit`).
"""

from __future__ import annotations

import datetime
import email.headerregistry
import ssl
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from wasmtime import WasmtimeError
from wasmtime.component import Variant

from . import _runtime
from ._errors import SMTPServerDisconnected, from_wit, reply_tuple
from ._runtime import record
from ._smtp import SMTP, _Trapped, tls_config

#: The `security` values: TLS from the first byte, STARTTLS required, or none.
IMPLICIT_TLS = "implicit-tls"
STARTTLS_REQUIRED = "starttls-required"
NONE = "none"

_SECURITY = (IMPLICIT_TLS, STARTTLS_REQUIRED, NONE)


@dataclass
class Mailbox:
    """One mailbox: an address and, optionally, a display name (any Unicode)."""

    address: str
    name: Optional[str] = None


#: What a mailbox may be given as: "a@example.com", ("Name", "a@example.com"), a
#: `Mailbox` or an `email.headerregistry.Address`.
MailboxLike = Union[str, Tuple[Optional[str], str], Mailbox, email.headerregistry.Address]


@dataclass
class Attachment:
    """A file sent with the message; with `content_id` (no `<>`) it is inline, for an
    HTML body that refers to it as `cid:...`."""

    filename: str
    content: bytes
    content_type: str = "application/octet-stream"
    content_id: Optional[str] = None


@dataclass
class Dkim:
    """DKIM signing (RFC 6376, relaxed/relaxed). `algorithm` is "rsa-sha256" or
    "ed25519-sha256"; `private_key_pem` PKCS#8, or PKCS#1 for RSA; `signed_headers`
    None for the component's default list."""

    domain: str
    selector: str
    private_key_pem: str
    algorithm: str = "rsa-sha256"
    signed_headers: Optional[List[str]] = None


@dataclass
class Dsn:
    """Delivery status notifications (RFC 3461). `notify`: None (the server's default),
    "never", or some of {"success", "failure", "delay"}; `ret`: None, "full" or
    "headers"; `envid`: the envelope id; `orcpt`: send ORCPT with every recipient;
    `best_effort`: send without DSN when the server does not offer it."""

    notify: Union[None, str, Iterable[str]] = None
    ret: Optional[str] = None
    envid: Optional[str] = None
    orcpt: bool = False
    best_effort: bool = False


@dataclass
class Transport:
    """Where and how to send.

    `security`: "starttls-required" (default; port 587), "implicit-tls" (465) or
    "none" (25; 24 for LMTP); never downgraded. TLS takes, as `SMTP.starttls` does, the
    CA certificates and `CERT_NONE` of an `ssl.SSLContext` (`context`), a client
    certificate (`certfile`, `keyfile`) and `server_name` to verify instead of the host.
    Credentials: `user` with `password` (CRAM-MD5, PLAIN or LOGIN, as smtplib's
    `login`), or with `oauth_token` (`oauth_mechanism` "xoauth2" or "oauthbearer").
    `timeout` is in seconds (default 60).
    """

    host: str
    port: Optional[int] = None
    security: str = STARTTLS_REQUIRED
    context: Optional[ssl.SSLContext] = None
    server_name: Optional[str] = None
    certfile: Optional[str] = None
    keyfile: Optional[str] = None
    user: Optional[str] = None
    password: Optional[str] = None
    oauth_token: Optional[str] = None
    oauth_mechanism: str = "xoauth2"
    allow_insecure_auth: bool = False
    local_hostname: Optional[str] = None
    timeout: Optional[float] = None
    lmtp: bool = False


@dataclass
class Mail:
    """A message by its parts. `from_addr` is the author (From) and the envelope
    sender (unless `sender` is given); `bcc` recipients get the message but are never in
    its bytes. `date` is a `datetime` or seconds since the epoch (now when None);
    `message_id`, `in_reply_to` and `references` are ids without `<>`; `headers` extra
    fields as (name, value) pairs or a dict; `text` and/or `html` the body. `dkim`,
    `dsn` and `require_tls` (RFC 8689) are the message's options."""

    from_addr: MailboxLike
    to: List[MailboxLike] = field(default_factory=list)
    subject: str = ""
    text: Optional[str] = None
    html: Optional[str] = None
    cc: List[MailboxLike] = field(default_factory=list)
    bcc: List[MailboxLike] = field(default_factory=list)
    reply_to: List[MailboxLike] = field(default_factory=list)
    sender: Optional[MailboxLike] = None
    date: Union[None, int, float, datetime.datetime] = None
    message_id: Optional[str] = None
    in_reply_to: List[str] = field(default_factory=list)
    references: List[str] = field(default_factory=list)
    headers: Union[Dict[str, str], List[Tuple[str, str]]] = field(default_factory=list)
    attachments: List[Attachment] = field(default_factory=list)
    dkim: Optional[Dkim] = None
    dsn: Optional[Dsn] = None
    require_tls: bool = False


@dataclass
class Delivery:
    """What became of a message the server accepted. `code`/`message` are the verdict
    (`message` bytes, as in smtplib's replies), `enhanced_status` e.g. (2, 0, 0) or None,
    `queue_id` the server's id when its reply gives one; `accepted`, `refused` and (LMTP)
    `lmtp_replies` map each recipient, as given, to its (code, message) in order;
    `extensions` the ones used ("pipelining", "chunking", ...); `elapsed_ms`."""

    code: int
    message: bytes
    enhanced_status: Optional[Tuple[int, int, int]]
    queue_id: Optional[str]
    accepted: Dict[str, Tuple[int, bytes]]
    refused: Dict[str, Tuple[int, bytes]]
    lmtp_replies: Dict[str, Tuple[int, bytes]]
    extensions: List[str]
    elapsed_ms: int


# -- Python values to WIT ------------------------------------------------------------


def _mailbox(value: MailboxLike) -> Any:
    if isinstance(value, Mailbox):
        return record(name=value.name, address=value.address)
    if isinstance(value, email.headerregistry.Address):
        return record(name=value.display_name or None, address=value.addr_spec)
    if isinstance(value, tuple) and len(value) == 2:
        name, address = value
        return record(name=name or None, address=address)
    if isinstance(value, str):
        return record(name=None, address=value)
    raise TypeError(f"a mailbox must be a str, (name, address), Mailbox or Address, "
                    f"not {type(value).__name__}")


def _mailboxes(values) -> List[Any]:
    if isinstance(values, (str, tuple, Mailbox, email.headerregistry.Address)):
        values = [values]
    return [_mailbox(v) for v in values]


def _date(value) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise ValueError("date must be timezone-aware (or seconds since the epoch)")
        return int(value.timestamp())
    return int(value)


def _headers(value) -> List[Any]:
    items = value.items() if isinstance(value, dict) else value
    return [record(name=name, value=val) for name, val in items]


def _dkim(d: Optional[Dkim]) -> Any:
    if d is None:
        return None
    return record(domain=d.domain, selector=d.selector, private_key_pem=d.private_key_pem,
                  algorithm=d.algorithm.lower(),
                  signed_headers=list(d.signed_headers) if d.signed_headers is not None else None)


def _dsn(d: Optional[Dsn]) -> Any:
    if d is None:
        return None
    if d.notify is None:
        notify = Variant("none")
    elif isinstance(d.notify, str) and d.notify.lower() == "never":
        notify = Variant("some", None)  # dsn-notify's `never` case
    else:
        events = {d.notify} if isinstance(d.notify, str) else set(d.notify)
        notify = Variant("some", {e.lower() for e in events})
    return record(notify=notify, ret=d.ret.lower() if d.ret else None, envid=d.envid,
                  orcpt=bool(d.orcpt), best_effort=bool(d.best_effort))


def _options(dkim, dsn, require_tls) -> Any:
    return record(dkim=_dkim(dkim), dsn=_dsn(dsn), require_tls=bool(require_tls))


def _mail(m: Mail) -> Any:
    return record(**{
        "from": _mailbox(m.from_addr),
        "sender": _mailbox(m.sender) if m.sender is not None else None,
        "to": _mailboxes(m.to), "cc": _mailboxes(m.cc), "bcc": _mailboxes(m.bcc),
        "reply_to": _mailboxes(m.reply_to),
        "subject": m.subject, "date": _date(m.date), "message_id": m.message_id,
        "in_reply_to": list(m.in_reply_to), "references": list(m.references),
        "headers": _headers(m.headers), "text": m.text, "html": m.html,
        "attachments": [record(filename=a.filename, content_type=a.content_type,
                               content=bytes(a.content), content_id=a.content_id)
                        for a in m.attachments],
        "options": _options(m.dkim, m.dsn, m.require_tls),
    })


def _transport(t: Transport) -> Any:
    security = t.security
    if security not in _SECURITY:
        raise ValueError(f"security must be one of {', '.join(_SECURITY)}, not {security!r}")
    credentials = None
    if t.oauth_token is not None:
        credentials = Variant("oauth", record(user=t.user or "", token=t.oauth_token,
                                              mechanism=t.oauth_mechanism.lower()))
    elif t.user is not None or t.password is not None:
        credentials = Variant("password", record(user=t.user or "", password=t.password or ""))
    tls = None
    if t.context is not None or t.server_name or t.certfile or t.keyfile:
        tls = tls_config(t.context, t.keyfile, t.certfile, t.server_name)
    timeout_ms = None
    if t.timeout is not None:
        timeout_ms = max(1, min(int(round(float(t.timeout) * 1000)), 2**32 - 1))
    return record(host=t.host, port=t.port, security=security, tls=tls,
                  credentials=credentials, allow_insecure_auth=bool(t.allow_insecure_auth),
                  local_hostname=t.local_hostname, timeout_ms=timeout_ms, lmtp=bool(t.lmtp))


# -- WIT to Python -------------------------------------------------------------------


def _delivery(d: Any) -> Delivery:
    reply = d.reply
    status = getattr(reply, "enhanced-status")
    return Delivery(
        code=reply.code, message=reply_tuple(reply)[1],
        enhanced_status=(getattr(status, "class"), status.subject, status.detail)
        if status is not None else None,
        queue_id=getattr(d, "queue-id"),
        accepted={r.recipient: reply_tuple(r.reply) for r in d.accepted},
        refused={r.recipient: reply_tuple(r.reply) for r in d.refused},
        lmtp_replies={r.recipient: reply_tuple(r.reply) for r in getattr(d, "lmtp-replies")},
        extensions=list(d.extensions), elapsed_ms=getattr(d, "elapsed-ms"))


def _result(instance, name: str, *args: Any) -> Any:
    try:
        result = instance.call_mailer(name, *args)
    except WasmtimeError as e:
        raise _Trapped(f"the smtp component trapped in {name}: {e}") from e
    if isinstance(result, Variant):
        raise from_wit(result)
    return result


def _client(smtp: SMTP):
    if not isinstance(smtp, SMTP):
        raise TypeError("smtp must be an smtp_component.SMTP (or SMTP_SSL, LMTP)")
    if smtp._client is None:
        raise SMTPServerDisconnected("the client was closed")
    return smtp._client


# -- the calls -----------------------------------------------------------------------


def send(transport: Transport, mail: Mail) -> Delivery:
    """Builds `mail`, connects as `transport` says (TLS, AUTH), sends and quits.
    Raises the package's exceptions: ValueError (bad input, nothing sent),
    SMTPNotSupportedError (STARTTLS, DSN, REQUIRETLS or SMTPUTF8 missing: nothing of the
    message sent), SMTPConnectError, SMTPAuthenticationError, SMTPSenderRefused,
    SMTPRecipientsRefused, SMTPDataError, ssl.SSLError, TimeoutError, OSError, and
    SMTPDeliveryUnknown (it may have been delivered: do not resend blindly)."""
    wit_transport, wit_mail = _transport(transport), _mail(mail)
    instance = _runtime.runtime().instantiate()
    return _delivery(_result(instance, "send", wit_transport, wit_mail))


def compose(mail: Mail) -> bytes:
    """The RFC 5322 bytes of `mail` (CRLF line ends, DKIM-signed when asked, no Bcc)."""
    wit_mail = _mail(mail)
    instance = _runtime.runtime().instantiate()
    return bytes(_result(instance, "compose", wit_mail))


def send_with(smtp: SMTP, mail: Mail) -> Delivery:
    """Builds `mail` and sends it over `smtp`, already connected (and secured and logged
    in); the connection stays open."""
    wit_mail = _mail(mail)
    client = _client(smtp)
    delivery = _delivery(_result(smtp._instance, "send-with", client, wit_mail))
    smtp._refresh()
    return delivery


def send_bytes_with(smtp: SMTP, from_addr: str, to_addrs, msg: bytes, *,
                    dkim: Optional[Dkim] = None, dsn: Optional[Dsn] = None,
                    require_tls: bool = False) -> Delivery:
    """Sends `msg` (RFC 5322 bytes, or ASCII text) over `smtp`, DKIM-signing it when
    asked and adding the DSN and REQUIRETLS parameters."""
    if isinstance(to_addrs, str):
        to_addrs = [to_addrs]
    if isinstance(msg, str):
        msg = msg.encode("ascii")
    client = _client(smtp)
    delivery = _delivery(_result(smtp._instance, "send-bytes-with", client, from_addr,
                                 list(to_addrs), bytes(msg), _options(dkim, dsn, require_tls)))
    smtp._refresh()
    return delivery


__all__ = ["Mailbox", "Attachment", "Dkim", "Dsn", "Transport", "Mail", "Delivery", "send",
           "compose", "send_with", "send_bytes_with", "IMPLICIT_TLS", "STARTTLS_REQUIRED",
           "NONE"]
