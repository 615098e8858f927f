#!/usr/bin/env python3
"""A minimal SMTP sink for the large-message check of the benchmark: EHLO/HELO, MAIL,
RCPT, DATA, RSET, NOOP, QUIT, with PIPELINING (replies to a batch go out in one write).
It throws message data away as fast as it can read it: 1 MiB reads and one search for
the end marker per read (Postfix smtp-sink reads and parses line by line, which costs it
~5 ms of CPU per MB). One thread per connection.

    fast_sink.py PORT

Listens on 127.0.0.1:PORT, prints "ready" on stdout, runs until killed."""

import socket
import sys
import threading

READ = 1 << 20
EHLO = (b"250-fast-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 0\r\n"
        b"250 ENHANCEDSTATUSCODES\r\n")
END = b"\r\n.\r\n"


def session(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.sendall(b"220 fast-sink ESMTP\r\n")
    buf = b""
    out = []
    while True:
        chunk = conn.recv(READ)
        if not chunk:
            return
        buf += chunk
        while True:
            eol = buf.find(b"\r\n")
            if eol < 0:
                break
            line, buf = buf[:eol], buf[eol + 2:]
            verb = line[:4].upper()
            if verb in (b"EHLO", b"LHLO"):
                out.append(EHLO)
            elif verb == b"HELO":
                out.append(b"250 fast-sink\r\n")
            elif verb == b"MAIL":
                out.append(b"250 2.1.0 Ok\r\n")
            elif verb == b"RCPT":
                out.append(b"250 2.1.5 Ok\r\n")
            elif verb in (b"RSET", b"NOOP"):
                out.append(b"250 2.0.0 Ok\r\n")
            elif verb == b"QUIT":
                out.append(b"221 2.0.0 Bye\r\n")
                conn.sendall(b"".join(out))
                return
            elif verb == b"DATA":
                conn.sendall(b"".join(out) + b"354 End data with <CR><LF>.<CR><LF>\r\n")
                out = []
                # The CRLF that ended DATA counts as the line end before a lone ".".
                buf = b"\r\n" + buf
                while True:
                    end = buf.find(END)
                    if end >= 0:
                        buf = buf[end + len(END):]
                        break
                    buf = buf[-4:]
                    chunk = conn.recv(READ)
                    if not chunk:
                        return
                    buf += chunk
                out.append(b"250 2.0.0 Ok: queued\r\n")
            else:
                out.append(b"502 5.5.2 Error: command not recognized\r\n")
        if out:
            conn.sendall(b"".join(out))
            out = []


def serve(conn):
    try:
        with conn:
            session(conn)
    except OSError:
        pass


def main():
    srv = socket.socket()
    srv.bind(("127.0.0.1", int(sys.argv[1])))
    srv.listen(128)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
