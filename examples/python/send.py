"""Sends one mail through the smtp WebAssembly component from Python (wasmtime-py 47):
one call to `mailer.send`, which builds the message, connects, sends and quits.

Usage: send.py HOST:PORT [COMPONENT.wasm]   (or set SMTP_SERVER and SMTP_COMPONENT_WASM)

wasmtime-py has no generated bindings for components: functions are looked up by name
in the exported instance and called dynamically. Records are `Record` objects whose
attributes carry the WIT (kebab-case) field names; a variant whose cases have distinct
Python types (option<T>, message, result<reply, smtp-error>) is passed and returned as
the bare payload, other variants (smtp-error) as `Variant(tag, payload)`; an enum
(security) is its case name as a string.
"""

import os
import sys
from pathlib import Path

from wasmtime import Engine, Store, WasiConfig
from wasmtime import _ffi as ffi  # the network switches have no Python wrapper in 47
from wasmtime.component import Component, Linker, Record, Variant

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WASM = ROOT / "target/component-build/smtp_component.wasm"
INTERFACE = "smtplib:smtp/mailer@0.2.0"
FROM, TO = "python-host@example.com", "someone@example.com"


def record(**fields):
    r = Record()
    for name, value in fields.items():
        setattr(r, name.replace("_", "-"), value)
    return r


class SmtpFailure(Exception):
    pass


def main() -> int:
    server = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SMTP_SERVER")
    if not server:
        print("usage: send.py HOST:PORT [COMPONENT.wasm] (or set SMTP_SERVER)", file=sys.stderr)
        return 2
    wasm = sys.argv[2] if len(sys.argv) > 2 else os.environ.get("SMTP_COMPONENT_WASM", DEFAULT_WASM)

    engine = Engine()
    component = Component.from_file(engine, str(wasm))
    linker = Linker(engine)
    linker.add_wasip2()
    store = Store(engine)
    wasi = WasiConfig()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    # TCP is allowed by default in wasmtime 47; socket addresses and DNS are not.
    ffi.wasi_config_inherit_network(wasi.ptr())
    ffi.wasi_config_allow_ip_name_lookup(wasi.ptr(), True)
    store.set_wasi(wasi)
    instance = linker.instantiate(store, component)

    iface = instance.get_export_index(store, INTERFACE)
    if iface is None:
        raise SmtpFailure(f"{wasm} does not export {INTERFACE}")

    index = instance.get_export_index(store, "send", iface)
    send = instance.get_func(store, index) if index is not None else None
    if send is None:
        raise SmtpFailure(f"{INTERFACE} exports no function send")

    transport = record(host=server, port=None, security="none", tls=None, credentials=None,
                       allow_insecure_auth=False, local_hostname=None, timeout_ms=None,
                       lmtp=False)
    no_options = record(dkim=None, dsn=None, require_tls=False)
    mail = record(**{"from": record(name="Python", address=FROM)}, sender=None,
                  to=[record(name=None, address=TO)], cc=[], bcc=[], reply_to=[],
                  subject="hi from Python ✓", date=None, message_id=None, in_reply_to=[],
                  references=[], headers=[], text="hello\n", html=None, attachments=[],
                  options=no_options)
    delivery = send(store, transport, mail)
    if isinstance(delivery, Variant):  # result<delivery, smtp-error>: the error
        raise SmtpFailure(f"send: {delivery.tag}: {delivery.payload!r}")
    print(f"sent a mail from {FROM} to {TO}: {delivery.reply.code} {delivery.reply.text}"
          f" (queue id {getattr(delivery, 'queue-id')}, {getattr(delivery, 'elapsed-ms')} ms)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # SmtpFailure, or a WasmtimeError (a trap, a missing file)
        print(f"send.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
