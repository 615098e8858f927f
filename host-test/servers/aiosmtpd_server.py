#!/usr/bin/env python3
"""Standalone aiosmtpd (1.4.6) server for SMTP client integration tests.

Usage:
    python aiosmtpd_server.py --store DIR [--port 0] [--smtputf8] ...

Listens on 127.0.0.1 only. Once listening, prints exactly one line to
stdout, the JSON object {"port": N, "pid": PID}, then serves until
SIGTERM/SIGINT and exits with code 0. All logging goes to stderr.

Each accepted message is stored as DIR/NNNN.json (envelope) followed by
DIR/NNNN.eml (message bytes); both are written atomically (temp file +
os.rename), the .json first and the .eml last, so a test that sees the
.eml can read both files completely.

The .eml holds envelope.original_content: the DATA bytes after dot
unstuffing, with the final CRLF before "." kept and the terminating
".\r\n" removed. aiosmtpd splits DATA on CRLF only, so a bare LF or CR
inside a line is kept as is, and so are 8-bit bytes (decode_data=False).

AUTH (only with --auth USER:PASSWORD, repeatable): PLAIN and LOGIN
(aiosmtpd built-ins, checked by an authenticator), CRAM-MD5, XOAUTH2 and
OAUTHBEARER (handler methods; a bearer token is valid when it equals the
user's password). --auth-mechanisms limits what is advertised. AUTH is
offered in clear when no TLS is configured, after STARTTLS only when
--tls-cert is given (unless --auth-in-clear), and from the start with
--implicit-tls. Each .json records "auth_user": the login name or null.
"""

import argparse
import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import signal
import ssl
import sys
import time

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

log = logging.getLogger("aiosmtpd_server")


def local_part(address: str) -> str:
    """The local part of an address (everything before the last '@')."""
    local, at, _domain = address.rpartition("@")
    return local if at else address


def has_prefix(address: str, prefix) -> bool:
    return bool(prefix) and local_part(address).startswith(prefix)


class Handler:
    """aiosmtpd hooks. Each one is called as hook(server, session, envelope, *args)."""

    def __init__(self, args):
        self.store = args.store
        self.refuse_rcpt_prefix = args.refuse_rcpt_prefix
        self.refuse_sender_prefix = args.refuse_sender_prefix
        self.refuse_data_prefix = args.refuse_data_prefix
        self.data_delay = args.data_delay
        self.counter = self._first_free_number()

    def _first_free_number(self) -> int:
        """Start after any NNNN.json / NNNN.eml already in the store."""
        taken = [
            int(m.group(1))
            for name in os.listdir(self.store)
            if (m := re.fullmatch(r"(\d{4,})\.(?:eml|json)", name))
        ]
        return max(taken, default=0) + 1

    # If a hook exists, aiosmtpd does NOT update the envelope itself:
    # the hook has to do it and return the reply line.
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if has_prefix(address, self.refuse_sender_prefix):
            log.info("refusing sender %r", address)
            return "553 5.1.8 sender refused"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if has_prefix(address, self.refuse_rcpt_prefix):
            log.info("refusing recipient %r", address)
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)  # a slow server (--data-delay)
        if has_prefix(envelope.mail_from, self.refuse_data_prefix):
            log.info("refusing message from %r", envelope.mail_from)
            return "554 5.6.0 message refused"
        number = self.counter
        self.counter += 1
        base = os.path.join(self.store, f"{number:04d}")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "mail_options": list(envelope.mail_options),
            "rcpt_options": list(envelope.rcpt_options),
            "auth_user": authenticated_user(session),
        }
        write_atomic(base + ".json", json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        write_atomic(base + ".eml", envelope.original_content)
        log.info("stored %s.eml (%d bytes)", base, len(envelope.original_content))
        return "250 OK"


def authenticated_user(session):
    """The login name of a successful AUTH in this session, or None."""
    if session.authenticated and isinstance(session.auth_data, str):
        return session.auth_data
    return None


# AUTH mechanisms this server can offer with --auth: aiosmtpd's built-ins
# plus the auth_* methods of AuthHandler.
ALL_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER")

CODE_INVALID = "535 5.7.8 Authentication credentials invalid"


def _eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class AuthHandler(Handler):
    """Handler with AUTH. Used only when --auth is given, so that without it
    the advertised mechanisms stay aiosmtpd's defaults.

    aiosmtpd discovers handler methods named auth_<MECH> ("__" stands for
    "-") and calls them as method(server, args), args being the AUTH command
    words ([mechanism] or [mechanism, initial-response]). Each returns an
    AuthResult; on success its auth_data (here the login name) becomes
    session.auth_data. A failure with handled=False makes aiosmtpd reply 535.
    """

    def __init__(self, args):
        super().__init__(args)
        self.credentials = dict(args.auth)

    def check_password(self, login: str, password: str) -> bool:
        expected = self.credentials.get(login)
        return expected is not None and _eq(expected, password)

    # The aiosmtpd `authenticator` for the built-in PLAIN and LOGIN.
    def authenticator(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
            if self.check_password(login, password):
                log.info("AUTH %s succeeded for %r", mechanism, login)
                return AuthResult(success=True, auth_data=login)
            log.info("AUTH %s failed for %r", mechanism, login)
        return AuthResult(success=False, handled=False)

    @staticmethod
    async def _initial_response(server, args):
        """Decoded initial response, or the reply to an empty 334 challenge.
        None when the exchange already failed (reply sent)."""
        if len(args) > 1:
            if args[1] == "=":
                return b""
            try:
                return base64.b64decode(args[1].encode(), validate=True)
            except (binascii.Error, ValueError):
                await server.push("501 5.5.2 Can't decode base64")
                return None
        response = await server.challenge_auth("")
        return None if response is MISSING else response

    async def auth_CRAM__MD5(self, server, args):
        if len(args) > 1:
            await server.push("501 5.5.2 CRAM-MD5 takes no initial response")
            return AuthResult(success=False, handled=True)
        challenge = f"<{os.getpid()}.{time.time_ns()}@{server.hostname}>".encode()
        response = await server.challenge_auth(challenge)
        if response is MISSING:
            return AuthResult(success=False, handled=True)
        login_b, _, digest_b = response.rpartition(b" ")
        login = login_b.decode("utf-8", "replace")
        digest = digest_b.decode("ascii", "replace").lower()
        password = self.credentials.get(login)
        if password is not None:
            expected = hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()
            if hmac.compare_digest(expected.encode(), digest.encode("ascii", "replace")):
                log.info("AUTH CRAM-MD5 succeeded for %r", login)
                return AuthResult(success=True, auth_data=login)
        log.info("AUTH CRAM-MD5 failed for %r", login)
        return AuthResult(success=False, handled=False)

    async def _bearer_failure(self, server, mechanism, login, error_json):
        """Send the JSON error challenge, read the client's (empty) answer,
        then let aiosmtpd reply 535."""
        log.info("AUTH %s failed for %r", mechanism, login)
        answer = await server.challenge_auth(error_json)
        if answer is MISSING:  # "*" or bad base64: 501 already sent
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False, message=CODE_INVALID)

    def _bearer_token(self, fields):
        """Token of an "auth=Bearer TOKEN" field, or None."""
        for field in fields:
            key, eq, value = field.partition("=")
            if eq and key.lower() == "auth":
                scheme, _, token = value.partition(" ")
                if scheme.lower() == "bearer":
                    return token.strip()
        return None

    async def auth_XOAUTH2(self, server, args):
        response = await self._initial_response(server, args)
        if response is None:
            return AuthResult(success=False, handled=True)
        fields = response.decode("utf-8", "replace").split("\x01")
        login = next((f[5:] for f in fields if f.lower().startswith("user=")), None)
        token = self._bearer_token(fields)
        if login is not None and token is not None and self.check_password(login, token):
            log.info("AUTH XOAUTH2 succeeded for %r", login)
            return AuthResult(success=True, auth_data=login)
        error = ('{"status":"401","schemes":"bearer",'
                 '"scope":"https://mail.example.com/"}')
        return await self._bearer_failure(server, "XOAUTH2", login, error)

    async def auth_OAUTHBEARER(self, server, args):
        # RFC 7628: gs2-header "n,a=USER," then \x01-separated key=value
        # pairs (auth=Bearer TOKEN, optional host=, port=), ending \x01\x01.
        response = await self._initial_response(server, args)
        if response is None:
            return AuthResult(success=False, handled=True)
        header, _, rest = response.decode("utf-8", "replace").partition("\x01")
        login = None
        for part in header.split(",")[1:]:
            if part.startswith("a="):
                login = part[2:].replace("=2C", ",").replace("=3D", "=")
        token = self._bearer_token(rest.split("\x01"))
        if token is not None:
            if login is None:  # no authzid: the user whose password is the token
                login = next((u for u, pw in self.credentials.items() if _eq(pw, token)), None)
            if login is not None and self.check_password(login, token):
                log.info("AUTH OAUTHBEARER succeeded for %r", login)
                return AuthResult(success=True, auth_data=login)
        return await self._bearer_failure(
            server, "OAUTHBEARER", login, '{"status":"invalid_token"}')


def write_atomic(path: str, data: bytes) -> None:
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0, help="TCP port (0 = OS picks)")
    p.add_argument("--store", required=True, help="directory for NNNN.eml/NNNN.json")
    p.add_argument("--refuse-rcpt-prefix", default="refuse",
                   help="RCPT whose local part starts with this gets 550 (empty = off)")
    p.add_argument("--refuse-sender-prefix", default=None,
                   help="MAIL whose local part starts with this gets 553")
    p.add_argument("--refuse-data-prefix", default=None,
                   help="end of DATA gets 554 if the sender's local part starts with this")
    p.add_argument("--data-delay", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long before answering the end of DATA (a slow server)")
    p.add_argument("--smtputf8", action="store_true", help="advertise and accept SMTPUTF8")
    p.add_argument("--data-size-limit", type=int, default=33554432,
                   help="SIZE advertised and enforced (0 = none)")
    p.add_argument("--ident", default=None, help="text of the 220 greeting")
    p.add_argument("--hostname", default="localhost",
                   help="name in the greeting and EHLO reply")
    p.add_argument("--tls-cert", default=None,
                   help="PEM certificate chain: offer STARTTLS (or, with --implicit-tls, TLS from the first byte)")
    p.add_argument("--tls-key", default=None, help="PEM private key for --tls-cert")
    p.add_argument("--implicit-tls", action="store_true",
                   help="TLS from the first byte (SMTPS) instead of STARTTLS")
    p.add_argument("--require-client-cert", default=None, metavar="CA_PEM",
                   help="require a client certificate issued by this CA")
    p.add_argument("--require-starttls", action="store_true",
                   help="refuse mail commands until STARTTLS")
    p.add_argument("--auth", action="append", default=[], type=user_password,
                   metavar="USER:PASSWORD",
                   help="enable AUTH with these credentials (repeatable); a bearer "
                        "token for XOAUTH2/OAUTHBEARER is valid when it equals the password")
    p.add_argument("--auth-mechanisms", default=None, type=mechanism_list, metavar="LIST",
                   help="comma-separated AUTH mechanisms to advertise (default: all of "
                        + ",".join(ALL_MECHANISMS) + ")")
    p.add_argument("--auth-in-clear", action="store_true",
                   help="with --tls-cert (STARTTLS), offer AUTH before STARTTLS too")
    return p.parse_args(argv)


def user_password(value: str):
    user, colon, password = value.partition(":")
    if not colon or not user:
        raise argparse.ArgumentTypeError(f"expected USER:PASSWORD, got {value!r}")
    return user, password


def mechanism_list(value: str):
    names = [m.strip().upper() for m in value.split(",") if m.strip()]
    unknown = [m for m in names if m not in ALL_MECHANISMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown AUTH mechanism(s) {unknown or value!r}; known: " + ",".join(ALL_MECHANISMS))
    return names


def auth_options(args, handler):
    """Extra SMTP() keyword arguments for AUTH; empty without --auth and
    --auth-mechanisms/--auth-in-clear, i.e. aiosmtpd's previous defaults."""
    options = {}
    if args.auth_mechanisms is not None:
        options["auth_exclude_mechanism"] = [
            m for m in ALL_MECHANISMS if m not in args.auth_mechanisms]
    if args.auth_in_clear:
        options["auth_require_tls"] = False
    if args.auth:
        options["authenticator"] = handler.authenticator
        # No TLS at all, or implicit TLS (which aiosmtpd does not see as TLS):
        # offer AUTH from the start. STARTTLS: only after it, unless
        # --auth-in-clear.
        if not args.tls_cert or args.implicit_tls:
            options["auth_require_tls"] = False
    return options


def tls_context(args):
    """The server's SSL context, or None when no certificate was given."""
    if not args.tls_cert:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    if args.require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(args.require_client_cert)
    return ctx


async def serve(args) -> None:
    loop = asyncio.get_running_loop()
    handler = AuthHandler(args) if args.auth else Handler(args)
    ctx = tls_context(args)
    starttls_ctx = None if args.implicit_tls else ctx
    listen_ctx = ctx if args.implicit_tls else None

    smtp_options = dict(
        # STARTTLS only when a certificate is given (and not implicit).
        # auth_require_tls stays True so AUTH is not advertised in clear
        # (unless --auth / --auth-in-clear say otherwise: auth_options()).
        auth_required=False,
        auth_require_tls=True,
    )
    smtp_options.update(auth_options(args, handler))

    def factory():
        return SMTP(
            handler,
            data_size_limit=args.data_size_limit,
            enable_SMTPUTF8=args.smtputf8,
            decode_data=False,
            hostname=args.hostname,
            ident=args.ident,
            tls_context=starttls_ctx,
            require_starttls=args.require_starttls,
            loop=loop,
            **smtp_options,
        )

    server = await loop.create_server(factory, "127.0.0.1", args.port, ssl=listen_ctx)
    port = server.sockets[0].getsockname()[1]

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    sys.stdout.write(json.dumps({"port": port, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    log.info("listening on 127.0.0.1:%d, storing in %s", port, args.store)

    await stop.wait()
    log.info("signal received, shutting down")
    server.close()
    await server.wait_closed()


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    os.makedirs(args.store, exist_ok=True)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
