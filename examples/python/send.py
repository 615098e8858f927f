"""Sends one mail through the smtp WebAssembly component from Python (wasmtime-py 47).

Usage: send.py HOST:PORT [COMPONENT.wasm]   (or set SMTP_SERVER and SMTP_COMPONENT_WASM)

wasmtime-py has no generated bindings for components: functions are looked up by name
in the exported instance and called dynamically. Records are `Record` objects whose
attributes carry the WIT (kebab-case) field names; a variant whose cases have distinct
Python types (option<T>, message, result<reply, smtp-error>) is passed and returned as
the bare payload, other variants (smtp-error) as `Variant(tag, payload)`.
"""

import os
import sys
from pathlib import Path

from wasmtime import Engine, Store, WasiConfig
from wasmtime import _ffi as ffi  # the network switches have no Python wrapper in 47
from wasmtime.component import Component, Linker, Record, Variant

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_WASM = ROOT / "target/component-build/smtp_component.wasm"
INTERFACE = "smtplib:smtp/client@0.2.0"
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

    def func(name):
        index = instance.get_export_index(store, name, iface)
        f = instance.get_func(store, index) if index is not None else None
        if f is None:
            raise SmtpFailure(f"{INTERFACE} exports no function {name}")
        return f

    def call(name, *args):
        """Calls a method of `client`; an `err` result (a Variant) becomes an exception."""
        result = func(f"[method]client.{name}")(store, client, *args)
        if isinstance(result, Variant):
            raise SmtpFailure(f"{name}: {result.tag}: {result.payload!r}")
        return result

    options = record(local_hostname=None, timeout_ms=None, source_address=None)
    client = func("[constructor]client")(store, options)
    try:
        reply = call("connect", server, None)
        print(f"connected to {server}: {reply.code} {reply.text}")
        msg = f"From: {FROM}\nTo: {TO}\nSubject: hi from Python\n\nhello\n"
        refused = call("sendmail", FROM, [TO], msg, [], [])
        print(f"sent a mail from {FROM} to {TO}; refused: {refused}")
        reply = call("quit")
        print(f"quit: {reply.code} {reply.text}")
    finally:
        client.drop(store)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # SmtpFailure, or a WasmtimeError (a trap, a missing file)
        print(f"send.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
