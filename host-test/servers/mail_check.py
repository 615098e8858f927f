#!/usr/bin/env python3
"""Reads a message the way a mail client does, with Python's `email` package, and
checks its DKIM signature with dkimpy: the mailer's tests use it as a peer nobody here
wrote.

Usage:
    python3 mail_check.py MESSAGE [--dkim-txt TXT]

Prints one JSON line:
    {"subject", "from", "to", "cc", "reply_to", "message_id", "date", "headers": {name: [values]},
     "content_type", "defects": [...],
     "parts": [{"content_type", "filename", "disposition", "content_id", "content_b64"}],
     "dkim": true | false | null}
Each leaf part's `content_b64` is its content with the transfer encoding undone
(`get_payload(decode=True)`), base64-encoded. `dkim` is dkimpy's verdict with the DNS lookup of
selector._domainkey.domain answered with TXT (null without --dkim-txt).
"""

import argparse
import base64
import email
import email.policy
import json
import sys


def main():
    p = argparse.ArgumentParser()
    p.add_argument("message")
    p.add_argument("--dkim-txt", default=None)
    args = p.parse_args()
    raw = open(args.message, "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [type(d).__name__ for d in msg.defects]
    parts = []
    for part in msg.walk():
        defects += [type(d).__name__ for d in part.defects]
        if part.is_multipart():
            parts.append({"content_type": part.get_content_type()})
            continue
        # The transfer encoding undone, the bytes as they are (no charset guessed).
        content = part.get_payload(decode=True)
        parts.append({
            "content_type": part.get_content_type(),
            "filename": part.get_filename(),
            "disposition": part.get_content_disposition(),
            "content_id": part.get("Content-ID"),
            "content_b64": base64.b64encode(content).decode(),
        })
    verdict = None
    if args.dkim_txt is not None:
        import dkim
        txt = args.dkim_txt.encode()
        verdict = bool(dkim.verify(raw, dnsfunc=lambda name, timeout=5: txt))
    headers = {}
    for name, value in msg.items():
        headers.setdefault(name.lower(), []).append(str(value))
    print(json.dumps({
        "subject": str(msg["Subject"]),
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "cc": str(msg["Cc"]) if msg["Cc"] else None,
        "reply_to": str(msg["Reply-To"]) if msg["Reply-To"] else None,
        "message_id": str(msg["Message-ID"]),
        "date": str(msg["Date"]),
        "headers": headers,
        "content_type": msg.get_content_type(),
        "defects": defects,
        "parts": parts,
        "dkim": verdict,
    }))


if __name__ == "__main__":
    sys.exit(main())
