"""The benchmark's message: the same bytes for every client (bench/lettre-client/src/main.rs
makes them too). Headers, then lines of 78 'x' and CRLF, cut to exactly `size` bytes and
ended with CRLF. No line starts with a dot, so no client has anything to dot-stuff."""

HEADER = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: bench\r\n\r\n"
LINE = b"x" * 78 + b"\r\n"


def message(size):
    lines = max(0, -(-(size - len(HEADER)) // len(LINE)))
    m = HEADER + LINE * lines
    return m[: max(size, 60) - 2] + b"\r\n"
