#!/usr/bin/env python3
"""scripts/bench's smtplib client.

    smtplib_client.py HOST PORT COUNT SIZE RECIPIENTS [reconnect] [starttls | tls]

Sends COUNT messages of SIZE bytes (bench/message.py) to RECIPIENTS recipients each with
smtplib.SMTP.sendmail: on one connection, or with `reconnect` on a new SMTP object
(connect, EHLO, send, QUIT) per message; `starttls` upgrades each connection first
(certificate not checked: the benchmark's throwaway one); `tls` connects with
smtplib.SMTP_SSL instead (TLS from the first byte). Prints the elapsed seconds,
from before the first connect to after the last QUIT."""

import os
import smtplib
import ssl
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from message import message  # noqa: E402


def main():
    host, port, count, size, rcpts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    flags = set(sys.argv[6:])
    msg = message(size)
    to = [f"b{i}@example.com" for i in range(rcpts)]
    ctx = None
    if "starttls" in flags or "tls" in flags:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

    def connect():
        if "tls" in flags:
            return smtplib.SMTP_SSL(host, port, local_hostname="localhost", timeout=60, context=ctx)
        s = smtplib.SMTP(host, port, local_hostname="localhost", timeout=60)
        if ctx is not None:
            s.starttls(context=ctx)
        return s

    t0 = time.perf_counter()
    if "reconnect" in flags:
        for _ in range(count):
            s = connect()
            s.sendmail("a@example.com", to, msg)
            s.quit()
    else:
        s = connect()
        for _ in range(count):
            s.sendmail("a@example.com", to, msg)
        s.quit()
    print(f"{time.perf_counter() - t0:.6f}")


if __name__ == "__main__":
    main()
