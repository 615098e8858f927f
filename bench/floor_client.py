#!/usr/bin/env python3
"""scripts/bench's one-round-trip floor for a CHUNKING server.

    floor_client.py HOST PORT COUNT SIZE RECIPIENTS

The least any client can do per message against a server with PIPELINING and CHUNKING:
one write of `MAIL FROM`, each `RCPT TO`, `BDAT n LAST` and the message (the same bytes the
component sends, bench/message.py), then one wait for all the replies, read from a
plain blocking socket with no more parsing than the reply codes. No error handling, no
debug output, no library: what is left is the network round trip and the server's own
time. The benchmark prints the component's rate as a share of this one. Prints the
elapsed seconds, from before connect to after QUIT (as bench/smtplib_client.py does)."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from message import message  # noqa: E402


class Replies:
    """Reads SMTP replies from a socket: one per call, all lines of it."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        lines = [self.line()]
        while lines[-1][3:4] == b"-":
            lines.append(self.line())
        return lines


def expect(replies, code):
    got = replies.reply()
    if not got[-1].startswith(code):
        raise RuntimeError(f"expected {code.decode()}, got {got[-1]!r}")
    return got


def main():
    host = sys.argv[1]
    port, count, size, rcpts = (int(a) for a in sys.argv[2:6])
    if sys.argv[6:]:
        sys.exit(f"floor_client.py: one connection, no TLS (not {' '.join(sys.argv[6:])})")
    msg = message(size)
    rcpt_lines = "".join(f"RCPT TO:<b{i}@example.com>\r\n" for i in range(rcpts))
    request = (f"MAIL FROM:<a@example.com> SIZE={len(msg)}\r\n{rcpt_lines}"
               f"BDAT {len(msg)} LAST\r\n").encode() + msg
    t0 = time.perf_counter()
    sock = socket.create_connection((host, port), timeout=60)
    replies = Replies(sock)
    expect(replies, b"220")
    sock.sendall(b"EHLO localhost\r\n")
    ehlo = expect(replies, b"250")
    if not any(line[4:].upper().startswith(b"CHUNKING") for line in ehlo):
        raise RuntimeError("the server does not advertise CHUNKING")
    for _ in range(count):
        sock.sendall(request)
        for _ in range(rcpts + 2):  # MAIL, each RCPT, BDAT
            expect(replies, b"250")
    sock.sendall(b"QUIT\r\n")
    expect(replies, b"221")
    sock.close()
    print(f"{time.perf_counter() - t0:.6f}")


if __name__ == "__main__":
    main()
