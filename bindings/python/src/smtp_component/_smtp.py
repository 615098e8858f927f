"""`SMTP`, `SMTP_SSL` and `LMTP`: smtplib's classes over the component's `client`.

Every behaviour (the protocol, its checks, TLS, SASL, the envelope of `send_message`)
comes from the component; this module converts Python values to WIT values and back,
and turns WIT errors into smtplib's exceptions.
"""

from __future__ import annotations

import copy
import email.generator
import email.message
import io
import ssl
from typing import Any, Optional

from wasmtime import WasmtimeError
from wasmtime.component import Variant

from . import _runtime
from ._errors import (SMTPAuthenticationError, SMTPException, SMTPResponseException,
                      SMTPServerDisconnected, from_wit, reply_tuple)
from ._runtime import record

SMTP_PORT = 25
SMTP_SSL_PORT = 465
LMTP_PORT = 2003  # smtplib's constant; the component's LMTP default port is 24 (RFC 2033)
CRLF = "\r\n"
bCRLF = b"\r\n"
_MAXLINE = 8192
_MAXCHALLENGE = 5
OLDSTYLE_AUTH = None


class _AuthLoop(SMTPAuthenticationError):
    """The server kept challenging past the component's limit (smtplib's message)."""

    def __str__(self):
        return ("Server AUTH mechanism infinite loop. Last response: "
                + repr((self.smtp_code, self.smtp_error)))


class _Trapped(SMTPServerDisconnected):
    """The component trapped (a bug in it): the instance refuses every later call."""


def _timeout_ms(timeout) -> Optional[int]:
    if timeout is None or timeout is _GLOBAL_DEFAULT_TIMEOUT:
        return None
    ms = int(round(float(timeout) * 1000))
    if float(timeout) > 0 and ms == 0:
        ms = 1
    return max(0, min(ms, 2**32 - 1))


try:
    from socket import _GLOBAL_DEFAULT_TIMEOUT  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    _GLOBAL_DEFAULT_TIMEOUT = object()


def _port(port) -> Optional[int]:
    if port in (None, 0, ""):
        return None
    try:
        value = int(port)
    except (TypeError, ValueError):
        raise OSError("nonnumeric port") from None
    if not 0 < value < 65536:
        raise OSError(f"port out of range: {value}")
    return value


def _source(source_address) -> Any:
    if not source_address:
        return None
    host, port = source_address
    if not host and not port:
        return None
    return record(ip=host or "0.0.0.0", port=int(port or 0))


def _read(path) -> Optional[str]:
    if path is None:
        return None
    with open(path, encoding="ascii") as f:
        return f.read()


def tls_config(context: Optional[ssl.SSLContext] = None, keyfile=None, certfile=None,
               server_name: Optional[str] = None) -> Any:
    """The WIT `tls-config` for smtplib's (context, keyfile, certfile).

    From an `ssl.SSLContext` the component takes the CA certificates loaded into it
    (`load_verify_locations`; added to its built-in Mozilla roots) and
    `verify_mode == CERT_NONE` (accept any certificate). A client certificate cannot be
    read back out of a context: pass `certfile` (and `keyfile`, unless the key is in the
    same file). The name verified is the host, or `server_name` when given.
    """
    roots = None
    unsafe = False
    if context is not None:
        unsafe = context.verify_mode == ssl.CERT_NONE
        ders = context.get_ca_certs(binary_form=True)
        if ders:
            roots = "".join(ssl.DER_cert_to_PEM_cert(d) for d in ders)
    cert = _read(certfile)
    key = _read(keyfile) if keyfile is not None else cert
    return record(server_name=server_name, extra_roots_pem=roots, client_cert_pem=cert,
                  client_key_pem=key, unsafe_accept_invalid_certs=unsafe)


class SMTP:
    """An SMTP connection, as smtplib's `SMTP`: `SMTP(host, port)` connects at once."""

    debuglevel = 0
    sock = None
    file = None
    helo_resp = None
    ehlo_msg = "ehlo"
    ehlo_resp = None
    does_esmtp = False
    default_port = SMTP_PORT
    _lmtp = False

    def __init__(self, host="", port=0, local_hostname=None,
                 timeout=_GLOBAL_DEFAULT_TIMEOUT, source_address=None):
        self._host = host
        self.timeout = timeout
        self.esmtp_features = {}
        self.command_encoding = "ascii"
        self.source_address = source_address
        self.local_hostname = local_hostname if local_hostname else "localhost"
        self.user = None
        self.password = None
        self._instance = _runtime.runtime().instantiate()
        options = record(local_hostname=local_hostname or None,
                         timeout_ms=_timeout_ms(timeout), source_address=_source(source_address))
        if self._lmtp:
            self._client = self._instance.call("[static]client.lmtp", options)
        else:
            self._client = self._instance.call("[constructor]client", options)
        if host:
            code, msg = self.connect(host, port)
            if code != 220:  # the component raises SMTPConnectError first; kept for safety
                self.close()
                raise SMTPResponseException(code, msg)

    # -- plumbing ---------------------------------------------------------------------

    def _call(self, name: str, *args: Any) -> Any:
        """Calls a `client` method; an `err` result is raised as smtplib's exception."""
        if self._client is None:
            raise SMTPServerDisconnected("the client was closed")
        try:
            result = self._instance.method(self._client, name, *args)
        except WasmtimeError as e:  # a trap: the instance is unusable from now on
            self._client = None
            raise _Trapped(f"the smtp component trapped in {name}: {e}") from e
        if isinstance(result, Variant):
            raise from_wit(result)
        return result

    def _addresses(self, name: str, addresses, *args: Any) -> Any:
        """`_call` for a method taking addresses: when the component refuses a non-ASCII
        address (no SMTPUTF8), raises UnicodeEncodeError for it, as smtplib does."""
        try:
            return self._call(name, *args)
        except ValueError as e:
            for address in addresses:
                bad = next((i for i, c in enumerate(address) if ord(c) > 127), None)
                if bad is not None:
                    raise UnicodeEncodeError("ascii", address, bad, bad + 1, str(e)) from e
            raise

    def _refresh(self) -> None:
        """Copies the component's session state into smtplib's attributes."""
        if self._client is None:
            return
        ehlo = self._call("ehlo-resp")
        helo = self._call("helo-resp")
        self.ehlo_resp = ehlo.encode("utf-8", "surrogateescape") if ehlo is not None else None
        self.helo_resp = helo.encode("utf-8", "surrogateescape") if helo is not None else None
        self.does_esmtp = bool(self._call("does-esmtp"))
        self.esmtp_features = {e.name: e.params for e in self._call("esmtp-features")}

    # -- context manager --------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *args):
        try:
            code, message = self.quit_reply()
            if code != 221:
                raise SMTPResponseException(code, message)
        except SMTPServerDisconnected:
            pass
        finally:
            self.close()

    def __del__(self):
        try:
            if getattr(self, "_client", None) is not None:
                self._instance.drop(self._client)
                self._client = None
        except Exception:
            pass

    # -- smtplib's methods ------------------------------------------------------------

    def set_debuglevel(self, debuglevel) -> None:
        """0 silent, 1 every line sent and received, 2 with timestamps (to sys.stderr)."""
        self.debuglevel = debuglevel
        self._call("set-debuglevel", max(0, min(int(debuglevel), 255)))

    def connect(self, host="localhost", port=0, source_address=None):
        """Connects to host:port and returns the greeting as (code, msg)."""
        if source_address:
            self.source_address = source_address
            raise ValueError("source_address is set when the SMTP object is made")
        self._host = host
        greeting = self._call("connect", host, _port(port))
        self._refresh()
        return reply_tuple(greeting)

    def is_connected(self) -> bool:
        """Whether the client holds an open connection (not in smtplib)."""
        return self._client is not None and bool(self._call("is-connected"))

    def is_tls(self) -> bool:
        """Whether the connection is encrypted (not in smtplib)."""
        return self._client is not None and bool(self._call("is-tls"))

    def docmd(self, cmd, args=""):
        """Sends `cmd args` and returns the reply as (code, msg)."""
        return reply_tuple(self._call("docmd", cmd, args or None))

    def helo(self, name=""):
        reply = self._call("helo", name or None)
        self._refresh()
        return reply_tuple(reply)

    def ehlo(self, name=""):
        reply = self._call("ehlo", name or None)
        self._refresh()
        return reply_tuple(reply)

    def ehlo_or_helo_if_needed(self):
        self._call("ehlo-or-helo-if-needed")
        self._refresh()

    def has_extn(self, opt) -> bool:
        return bool(self._call("has-extn", opt))

    def help(self, args=""):
        """Sends HELP and returns the reply's text (bytes), as smtplib does."""
        return reply_tuple(self._call("help", args or None))[1]

    def rset(self):
        return reply_tuple(self._call("rset"))

    def _rset(self):
        try:
            self.rset()
        except SMTPServerDisconnected:
            pass

    def noop(self):
        return reply_tuple(self._call("noop"))

    def mail(self, sender, options=()):
        self.ehlo_or_helo_if_needed()
        return reply_tuple(self._addresses("mail", [sender], sender, list(options)))

    def rcpt(self, recip, options=()):
        return reply_tuple(self._addresses("rcpt", [recip], recip, list(options)))

    def data(self, msg):
        return reply_tuple(self._call("data", _message(msg)))

    def verify(self, address):
        return reply_tuple(self._call("verify", address))

    vrfy = verify

    def expn(self, address):
        return reply_tuple(self._call("expn", address))

    def login(self, user, password, *, initial_response_ok=True):
        """Tries CRAM-MD5, PLAIN and LOGIN among those the server offers."""
        self.user, self.password = user, password
        reply = self._call("login", user, password, bool(initial_response_ok))
        self._refresh()
        return reply_tuple(reply)

    def login_with(self, mechanism, user, secret, *, initial_response_ok=True):
        """One built-in mechanism (`cram-md5`, `plain`, `login`, `xoauth2`, `oauthbearer`)
        whether or not the server lists it; for the OAuth ones `secret` is the access
        token (not in smtplib)."""
        reply = self._call("login-with", mechanism.lower(), user, secret, bool(initial_response_ok))
        return reply_tuple(reply)

    def auth(self, mechanism, authobject, *, initial_response_ok=True):
        """AUTH with the caller's mechanism: `authobject(challenge=None)` returns each
        response as ASCII str, driven through the component's auth-start/auth-continue.
        `self.auth_cram_md5`, `auth_plain` and `auth_login` run the component's own."""
        builtin = _BUILTIN.get(getattr(authobject, "__func__", None))
        if builtin is not None and getattr(authobject, "__self__", None) is self:
            return self.login_with(builtin, self.user, self.password,
                                   initial_response_ok=initial_response_ok)
        self.ehlo_or_helo_if_needed()
        initial = authobject() if initial_response_ok else None
        first = initial.encode("ascii") if initial is not None else None
        challenges = 1 if first is not None else 0
        try:
            step = self._call("auth-start", mechanism.upper(), first)
            while isinstance(step, (bytes, bytearray, list)):
                challenges += 1
                response = authobject(bytes(step))
                step = self._call("auth-continue", (response or "").encode("ascii"))
        except SMTPAuthenticationError as e:
            if e.smtp_code == 334 and challenges >= _MAXCHALLENGE:
                # The component ended a mechanism that kept challenging: smtplib's words.
                raise _AuthLoop(e.smtp_code, e.smtp_error) from None
            raise
        self._refresh()
        return reply_tuple(step)

    def auth_cram_md5(self, challenge=None):
        """The component's CRAM-MD5, for `auth("CRAM-MD5", smtp.auth_cram_md5)`."""
        raise TypeError("pass auth_cram_md5 to auth(); the component computes it")

    def auth_plain(self, challenge=None):
        """The component's PLAIN, for `auth("PLAIN", smtp.auth_plain)`."""
        raise TypeError("pass auth_plain to auth(); the component computes it")

    def auth_login(self, challenge=None):
        """The component's LOGIN, for `auth("LOGIN", smtp.auth_login)`."""
        raise TypeError("pass auth_login to auth(); the component computes it")

    def allow_insecure_auth(self, allow=True) -> None:
        """Allows credentials over a cleartext connection to a host other than
        loopback, which the component refuses by default (not in smtplib)."""
        self._call("allow-insecure-auth", bool(allow))

    def starttls(self, keyfile=None, certfile=None, context=None, *, server_name=None):
        """STARTTLS and the handshake; see `tls_config` for what `context` gives."""
        reply = self._call("starttls", tls_config(context, keyfile, certfile, server_name))
        self._refresh()
        return reply_tuple(reply)

    def sendmail(self, from_addr, to_addrs, msg, mail_options=(), rcpt_options=()):
        """Sends one message; returns {recipient: (code, msg)} for those refused."""
        if isinstance(to_addrs, str):
            to_addrs = [to_addrs]
        to_addrs = list(to_addrs)
        refused = self._addresses("sendmail", [from_addr, *to_addrs], from_addr, to_addrs,
                                  _message(msg), list(mail_options), list(rcpt_options))
        self._refresh()
        return {r.recipient: reply_tuple(r.reply) for r in refused}

    def send_message(self, msg, from_addr=None, to_addrs=None, mail_options=(),
                     rcpt_options=()):
        """Sends an `email.message.Message`; the component takes the envelope from its
        headers (Sender/From, To/Cc/Bcc or the Resent- block) and cuts Bcc."""
        if isinstance(to_addrs, str):
            to_addrs = [to_addrs]
        refused = self._call("send-message", _flatten(msg), from_addr,
                             list(to_addrs) if to_addrs is not None else None,
                             list(mail_options), list(rcpt_options))
        self._refresh()
        return {r.recipient: reply_tuple(r.reply) for r in refused}

    def close(self):
        """Closes the connection without sending anything."""
        if self._client is not None:
            self._instance.method(self._client, "close")
        self.file = self.sock = None

    def quit_reply(self):
        reply = reply_tuple(self._call("quit"))
        self._refresh()
        return reply

    def quit(self):
        """Sends QUIT and closes the connection; returns the reply."""
        try:
            return self.quit_reply()
        finally:
            self.ehlo_resp = self.helo_resp = None
            self.esmtp_features = {}
            self.does_esmtp = False
            self.close()


_BUILTIN = {SMTP.auth_cram_md5: "cram-md5", SMTP.auth_plain: "plain",
            SMTP.auth_login: "login"}


def _message(msg):
    """A WIT `message`: text stays text (the component requires ASCII), bytes stay bytes."""
    if isinstance(msg, str):
        return msg
    if isinstance(msg, (bytes, bytearray, memoryview)):
        return bytes(msg)
    raise TypeError(f"msg must be str or bytes, not {type(msg).__name__}")


def _flatten(msg: email.message.Message) -> bytes:
    """The message as bytes, flattened as smtplib flattens it: CRLF line ends, and the
    UTF-8 policy when an address header is not ASCII (so the component sees the real
    addresses and can ask for SMTPUTF8)."""
    if isinstance(msg, (bytes, bytearray)):
        return bytes(msg)
    if not isinstance(msg, email.message.Message):
        raise TypeError("msg must be an email.message.Message (or bytes)")
    international = any(
        not str(value).isascii()
        for name in ("From", "Sender", "To", "Cc", "Bcc", "Resent-From", "Resent-Sender",
                     "Resent-To", "Resent-Cc", "Resent-Bcc")
        for value in (msg.get_all(name) or ()))
    policy = msg.policy.clone(utf8=True) if international else msg.policy
    out = io.BytesIO()
    email.generator.BytesGenerator(out, policy=policy).flatten(copy.copy(msg), linesep="\r\n")
    return out.getvalue()


class SMTP_SSL(SMTP):
    """SMTP over TLS from the first byte (default port 465)."""

    default_port = SMTP_SSL_PORT

    def __init__(self, host="", port=0, local_hostname=None, keyfile=None, certfile=None,
                 timeout=_GLOBAL_DEFAULT_TIMEOUT, source_address=None, context=None, *,
                 server_name=None):
        self.keyfile, self.certfile, self.context = keyfile, certfile, context
        self._tls = tls_config(context, keyfile, certfile, server_name)
        super().__init__(host, port, local_hostname, timeout, source_address)

    def connect(self, host="localhost", port=0, source_address=None):
        if source_address:
            raise ValueError("source_address is set when the SMTP object is made")
        self._host = host
        greeting = self._call("connect-tls", host, _port(port), self._tls)
        self._refresh()
        return reply_tuple(greeting)


class LMTP(SMTP):
    """LMTP (RFC 2033): LHLO, default port 24, one reply per recipient after the data;
    `sendmail` reports every refused recipient. Unix socket paths are not supported
    (WASI 0.2 has none): they raise SMTPNotSupportedError."""

    ehlo_msg = "lhlo"
    _lmtp = True

    def __init__(self, host="", port=0, local_hostname=None, source_address=None,
                 timeout=_GLOBAL_DEFAULT_TIMEOUT):
        super().__init__(host, port, local_hostname=local_hostname,
                         source_address=source_address, timeout=timeout)

    def lmtp_data(self, msg):
        """DATA, then every accepted recipient's reply: {recipient: (code, msg)}."""
        replies = self._call("lmtp-data", _message(msg))
        return {r.recipient: reply_tuple(r.reply) for r in replies}


__all__ = ["SMTP", "SMTP_SSL", "LMTP", "tls_config", "SMTPException"]
