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
"""

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import ssl
import sys

from aiosmtpd.smtp import SMTP

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
        }
        write_atomic(base + ".json", json.dumps(meta, ensure_ascii=False).encode("utf-8"))
        write_atomic(base + ".eml", envelope.original_content)
        log.info("stored %s.eml (%d bytes)", base, len(envelope.original_content))
        return "250 OK"


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
    return p.parse_args(argv)


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
    handler = Handler(args)
    ctx = tls_context(args)
    starttls_ctx = None if args.implicit_tls else ctx
    listen_ctx = ctx if args.implicit_tls else None

    def factory():
        return SMTP(
            handler,
            data_size_limit=args.data_size_limit,
            enable_SMTPUTF8=args.smtputf8,
            decode_data=False,
            hostname=args.hostname,
            ident=args.ident,
            # STARTTLS only when a certificate is given (and not implicit).
            # auth_require_tls stays True so AUTH is not advertised in clear.
            tls_context=starttls_ctx,
            require_starttls=args.require_starttls,
            auth_required=False,
            auth_require_tls=True,
            loop=loop,
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
