"""The one place that talks to wasmtime: loads the component, gives it WASI with network
access, and calls its `client` interface with Python values.

wasmtime-py is pinned to 47.x: 48, 49 and 50 embed a wasmtime that denies TCP unless
the host allows it, and their C API has no switch to allow it. 47 allows TCP by default
and needs two more switches (socket addresses and name lookup) that its Python API does
not wrap; `_allow_network` calls them through `wasmtime._ffi`, the only private API this
package uses.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import sys
import tempfile
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from wasmtime import Engine, Store, WasiConfig, WasmtimeError
from wasmtime.component import Component, Linker, Record, ResourceAny, Variant

INTERFACE_PREFIX = "smtplib:smtp/client@"
MAILER_PREFIX = "smtplib:smtp/mailer@"


def _allow_network(wasi: WasiConfig) -> None:
    """Lets the component open TCP to any address and look names up (wasmtime-py 47).

    wasmtime 47 allows TCP by default; these are the C API's `inherit_network` and
    `allow_ip_name_lookup`, which `WasiConfig` has no Python method for. Re-check on any
    wasmtime-py upgrade (48-50 cannot turn TCP on at all).
    """
    from wasmtime import _ffi as ffi

    ffi.wasi_config_inherit_network(wasi.ptr())
    ffi.wasi_config_allow_ip_name_lookup(wasi.ptr(), True)


def component_path() -> Path:
    """The component file: `SMTP_COMPONENT_WASM`, else the one shipped in the package."""
    override = os.environ.get("SMTP_COMPONENT_WASM")
    if override:
        return Path(override)
    return Path(str(resources.files(__package__).joinpath("smtp_component.wasm")))


def _cache_dir() -> Optional[Path]:
    for base in (os.environ.get("SMTP_HOST_CACHE"), os.environ.get("XDG_CACHE_HOME"),
                 os.path.join(os.path.expanduser("~"), ".cache")):
        if not base:
            continue
        path = Path(base) / "smtp-component"
        try:
            path.mkdir(parents=True, exist_ok=True)
            if os.access(path, os.W_OK):
                return path
        except OSError:
            continue
    return None


class Runtime:
    """The engine and the compiled component, shared by every client of the process."""

    def __init__(self, wasm: Path):
        self.engine = Engine()
        self.component = self._compile(wasm)
        self.interface = self._find_interface(INTERFACE_PREFIX)
        self.mailer_interface = self._find_interface(MAILER_PREFIX)
        self.linker = Linker(self.engine)
        self.linker.add_wasip2()
        self._lock = threading.Lock()

    def _compile(self, wasm: Path) -> Component:
        """Compiles the component, or loads the compiled code cached for these bytes and
        this wasmtime (a compile takes about a second; a cached load a few ms)."""
        data = wasm.read_bytes()
        cache = _cache_dir()
        if cache is None:
            return Component(self.engine, data)
        key = hashlib.sha256(data + importlib.metadata.version("wasmtime").encode()).hexdigest()[:24]
        cached = cache / f"python-{key}.cwasm"
        if cached.exists():
            try:
                return Component.deserialize_file(self.engine, str(cached))
            except WasmtimeError:
                pass  # written by another wasmtime build: compile again
        component = Component(self.engine, data)
        fd, tmp = tempfile.mkstemp(dir=cache, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(component.serialize())
            os.replace(tmp, cached)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
        return component

    def _find_interface(self, prefix: str) -> str:
        """An exported interface's name (`client` or `mailer`), version included, read
        from the component (so the package follows the WIT package's version)."""
        for name in self.component.type.exports(self.engine):
            if name.startswith(prefix):
                return name
        raise ImportError(f"the component exports no {prefix}* interface")

    def instantiate(self) -> "Instance":
        store = Store(self.engine)
        wasi = WasiConfig()
        # The debug transcript (set_debuglevel) goes to Python's sys.stderr, so it can be
        # redirected or captured like smtplib's.
        wasi.stderr_custom = _write_stderr
        _allow_network(wasi)
        store.set_wasi(wasi)
        with self._lock:
            instance = self.linker.instantiate(store, self.component)
        return Instance(self, store, instance)


def _write_stderr(data: bytes) -> None:
    sys.stderr.write(data.decode("utf-8", "replace"))
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass


class Instance:
    """One instance of the component in its own store (one per SMTP object: a trap
    poisons only its own instance)."""

    def __init__(self, runtime: Runtime, store: Store, instance: Any):
        self.store = store
        self._instance = instance
        self._ifaces = {runtime.interface: instance.get_export_index(store, runtime.interface),
                        runtime.mailer_interface:
                            instance.get_export_index(store, runtime.mailer_interface)}
        self._funcs: dict = {}
        self.interface = runtime.interface
        self.mailer_interface = runtime.mailer_interface

    def func(self, name: str, interface: Optional[str] = None):
        """A function of the `client` interface, or of `interface` when given."""
        interface = interface or self.interface
        f = self._funcs.get((interface, name))
        if f is None:
            index = self._instance.get_export_index(self.store, name, self._ifaces[interface])
            f = self._instance.get_func(self.store, index) if index is not None else None
            if f is None:
                raise AttributeError(f"{interface} exports no function {name}")
            self._funcs[(interface, name)] = f
        return f

    def call(self, name: str, *args: Any) -> Any:
        return self.func(name)(self.store, *args)

    def call_mailer(self, name: str, *args: Any) -> Any:
        """Calls a function of the `mailer` interface."""
        return self.func(name, self.mailer_interface)(self.store, *args)

    def method(self, client: ResourceAny, name: str, *args: Any) -> Any:
        return self.call(f"[method]client.{name}", client, *args)

    def drop(self, client: ResourceAny) -> None:
        client.drop(self.store)


_runtime: Optional[Runtime] = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    """The process's runtime, made on first use."""
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime(component_path())
        return _runtime


def record(**fields: Any) -> Record:
    """A WIT record: keyword names with `_` become the kebab-case field names."""
    r = Record()
    for name, value in fields.items():
        setattr(r, name.replace("_", "-"), value)
    return r


def field(rec: Record, name: str) -> Any:
    return getattr(rec, name.replace("_", "-"))


__all__ = ["Runtime", "Instance", "runtime", "record", "field", "Variant", "WasmtimeError"]
