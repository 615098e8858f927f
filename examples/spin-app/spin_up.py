#!/usr/bin/env python3
"""Does for spin.toml what `spin up` does, with the tools this repository has.

Reads the HTTP trigger's component from spin.toml, plugs its component dependencies into
its source with `wac plug` (the composition Spin performs for `dependencies`), and
replaces itself with `wasi-host serve` on the composition, passing the component's
`environment` and only its `allowed_outbound_hosts` (`*://IP:PORT` entries; Spin gives
guests no DNS, and neither does wasi-host when outbound hosts are listed).

Overrides from the environment: SMTP_SERVER=IP:PORT replaces SMTP_HOST, SMTP_PORT and
the allowed host; any other SMTP_* variable replaces the manifest's value.

examples/spin-app-p3/run uses it with `--manifest` (the WASI 0.3 app; its wasi-host is
built with feature p3). The composition goes to target/examples/<manifest folder>.wasm.

usage: spin_up.py [--manifest spin.toml] [--listen IP:PORT]   (default 127.0.0.1:3000)
"""
import os
import pathlib
import re
import subprocess
import sys
import tomllib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def fail(message):
    sys.exit(f"spin_up.py: {message}")


def main():
    listen = "127.0.0.1:3000"
    manifest_path = HERE / "spin.toml"
    args = sys.argv[1:]
    while args:
        if args[0] == "--listen" and len(args) >= 2:
            listen, args = args[1], args[2:]
        elif args[0] == "--manifest" and len(args) >= 2:
            manifest_path, args = pathlib.Path(args[1]).resolve(), args[2:]
        else:
            fail(__doc__.strip().splitlines()[-1])
    # Paths in the manifest are relative to its folder, as for `spin up -f`.
    here = manifest_path.parent

    with open(manifest_path, "rb") as f:
        manifest = tomllib.load(f)
    name = manifest["trigger"]["http"][0]["component"]
    component = manifest["component"][name]
    source = (here / component["source"]).resolve()
    plugs = []
    spin3 = component.get("dependencies_inherit_configuration", False)
    for import_name, dep in component.get("dependencies", {}).items():
        if "path" not in dep:
            fail(f"dependency {import_name}: only local `path` dependencies are handled")
        plugs.append((here / dep["path"]).resolve())
        # Spin 4: inherit_configuration inside the dependency's entry; Spin 3: the
        # component-level flag. Spin 4 refuses a manifest with both.
        spin4 = dep.get("inherit_configuration")
        if spin4 is not None and spin3:
            fail(f"dependency {import_name}: inherit_configuration cannot be combined with "
                 "the component's dependencies_inherit_configuration")
        if not spin3 and "allowed_outbound_hosts" not in (spin4 or []):
            fail(f"dependency {import_name} connects to the SMTP server: it must inherit "
                 'the component\'s allowed_outbound_hosts (inherit_configuration = '
                 '["allowed_outbound_hosts"] in its entry)')

    composed = ROOT / "target" / "examples" / f"{here.name}.wasm"
    wac = pathlib.Path(os.environ.get("CARGO_HOME", pathlib.Path.home() / ".cargo")) / "bin" / "wac"
    command = [str(wac), "plug", str(source)]
    for plug in plugs:
        command += ["--plug", str(plug)]
    subprocess.run(command + ["-o", str(composed)], check=True)

    env = {k: str(v) for k, v in component.get("environment", {}).items()}
    allowed = []
    for entry in component.get("allowed_outbound_hosts", []):
        m = re.fullmatch(r"[a-z*]+://(\d{1,3}(?:\.\d{1,3}){3}):(\d+)", entry)
        if not m:
            fail(f"only `*://IPv4:PORT` outbound hosts are handled, not {entry!r}")
        allowed.append(f"{m[1]}:{m[2]}")
    server = os.environ.get("SMTP_SERVER")
    if server:
        host, _, port = server.rpartition(":")
        env["SMTP_HOST"], env["SMTP_PORT"] = host, port
        allowed = [server]
    for key, value in os.environ.items():
        if key.startswith("SMTP_") and key != "SMTP_SERVER":
            env[key] = value

    # cargo builds where CARGO_TARGET_DIR says, else in target/.
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    host_bin = target / "debug" / "wasi-host"
    argv = [str(host_bin), "serve", "--listen", listen]
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    for addr in allowed:
        argv += ["--allow-outbound", addr]
    argv.append(str(composed))
    sys.stdout.flush()
    os.execv(argv[0], argv)


if __name__ == "__main__":
    main()
