"""The "SMTP Example" of Python's smtplib documentation, as a wasi:cli command.

It prompts for the envelope's From and To addresses, reads the message from stdin until
EOF, puts From: and To: headers in front of it as the original does, and sends it with
debug level 1 through the `smtplib:smtp/client@0.2.0` interface, which the smtp component
supplies once the two are composed with `wac plug`.

Differences from the original, which runs on CPython with a socket of its own:
- The server is `SMTP_SERVER` (`host` or `host:port`, as `smtplib.SMTP(host)` accepts;
  default `localhost`), since a wasi:cli command has no argv convention beyond its own.
- The original stops at the first empty line and drops the line breaks (`msg + line`);
  this one keeps every line, blank ones too, up to EOF, so a message may have headers of
  its own (a Subject, say) separated from the body by an empty line.
- Errors are printed to stderr as the `smtp-error` case and its payload, and the command
  fails (`wasi:cli/run` returns an error, which hosts turn into exit status 1).
"""

import os
import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports.client import Client, ClientOptions, Message_Text, Reply


def prompt(text: str) -> str:
    sys.stdout.write(text)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError(f"end of input at the {text.strip()!r} prompt")
    return line.strip()


def describe(error: object) -> str:
    """`SmtpError_RecipientsRefused(value=[...])` -> `recipients-refused: RCPT: 550 ...`."""
    case = type(error).__name__.removeprefix("SmtpError_")
    kebab = "".join("-" + c.lower() if c.isupper() else c for c in case).lstrip("-")
    return f"{kebab}: {show(getattr(error, 'value', error))}"


def show(value: object) -> str:
    """A reply as `CODE TEXT`, a refusal as `ADDRESS: CODE TEXT`, anything else as is."""
    if isinstance(value, list):
        return "; ".join(show(v) for v in value)
    if isinstance(value, Reply):
        return f"{value.code} {value.text}"
    for field in ("recipient", "sender"):
        if hasattr(value, field) and hasattr(value, "reply"):
            return f"{getattr(value, field)}: {show(value.reply)}"
    return str(value)


def main() -> int:
    try:
        fromaddr = prompt("From: ")
        toaddrs = prompt("To: ").split()
    except EOFError as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 1
    print("Enter message, end with ^D (Unix) or ^Z (Windows):", flush=True)

    # Add the From: and To: headers at the start!
    msg = "From: %s\r\nTo: %s\r\n\r\n" % (fromaddr, ", ".join(toaddrs))
    msg += sys.stdin.read()

    print("Message length is", len(msg), flush=True)

    server = os.environ.get("SMTP_SERVER") or "localhost"
    try:
        # smtplib.SMTP(server): a host with an optional ":port" suffix, port 25 by default.
        with Client(ClientOptions(local_hostname=None, timeout_ms=None, source_address=None)) as client:
            client.connect(server, None)
            client.set_debuglevel(1)
            refused = client.sendmail(fromaddr, toaddrs, Message_Text(msg), [], [])
            for refusal in refused:
                print(f"refused: {show(refusal)}", file=sys.stderr)
            client.quit()
    except Err as e:
        print(f"smtp error: {describe(e.value)}", file=sys.stderr)
        return 1
    return 0


class Run(exports.Run):
    def run(self) -> None:
        if main() != 0:
            raise Err(None)
