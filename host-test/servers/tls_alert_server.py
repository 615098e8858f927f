#!/usr/bin/env python3
"""A scripted SMTP-over-TLS peer for one fault no real server produces on demand: a TLS
alert in the middle of a session. It serves one connection on 127.0.0.1 with implicit
TLS, answers the greeting and EHLO, then at MAIL either writes a raw fatal alert record
(`--alert raw`: bypassing the TLS session, as a broken middlebox or server would) or
sends a proper close_notify (`--alert close-notify`), and closes.

    tls_alert_server.py --cert C --key K --alert raw|close-notify
prints {"port": N, "pid": P} once listening; exits after the one session (or 120 s
without a client).
"""
import argparse
import json
import os
import socket
import ssl
import sys

# TLS record: alert (21), TLS 1.2 framing, length 2, level fatal (2),
# description handshake_failure (40).
RAW_FATAL_ALERT = bytes([21, 3, 3, 0, 2, 2, 40])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--alert", choices=["raw", "close-notify"], required=True)
    args = p.parse_args()

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(120)
    print(json.dumps({"port": listener.getsockname()[1], "pid": os.getpid()}), flush=True)
    try:
        raw, _ = listener.accept()
    except socket.timeout:
        return 0
    raw.settimeout(10)
    tls = ctx.wrap_socket(raw, server_side=True)
    tls.sendall(b"220 alert.test ESMTP\r\n")
    reader = tls.makefile("rb")
    for line in reader:
        verb = line[:4].upper()
        if verb == b"EHLO":
            tls.sendall(b"250-alert.test\r\n250 SIZE 1000000\r\n")
        elif verb == b"MAIL":
            if args.alert == "raw":
                # Straight onto the TCP stream, under the TLS session.
                os.write(tls.fileno(), RAW_FATAL_ALERT)
                raw.close()
            else:
                try:
                    # Sends close_notify; the client may hang up before answering it.
                    tls.unwrap().close()
                except (ssl.SSLError, OSError):
                    pass
            return 0
        else:
            tls.sendall(b"250 ok\r\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
