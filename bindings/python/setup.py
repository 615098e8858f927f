"""Puts the smtp component into the package when it is built.

The wheel carries `smtp_component/smtp_component.wasm`. It is taken from, in order:
`SMTP_COMPONENT_WASM`; the file already in src/smtp_component/ (an sdist carries it);
the checkout this folder belongs to, built with `scripts/build-component` (which only
rebuilds when the component's sources changed, and prints the file's path).
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
SHIPPED = HERE / "src" / "smtp_component" / "smtp_component.wasm"


def component() -> Path:
    override = os.environ.get("SMTP_COMPONENT_WASM")
    if override:
        return Path(override)
    script = HERE.parent.parent / "scripts" / "build-component"
    if script.exists():
        out = subprocess.run([str(script)], check=True, stdout=subprocess.PIPE, text=True)
        return Path(out.stdout.strip().splitlines()[-1])
    if SHIPPED.exists():
        return SHIPPED
    raise SystemExit("no smtp component: set SMTP_COMPONENT_WASM or build from a checkout")


def place_component() -> None:
    source = component()
    if source.resolve() != SHIPPED.resolve():
        shutil.copyfile(source, SHIPPED)


def version() -> str:
    """The component's version: the root Cargo.toml's (which scripts/wit-package keeps
    equal to the WIT package's), or, building from an sdist, the one it recorded."""
    cargo = HERE.parent.parent / "Cargo.toml"
    if cargo.exists():
        package = cargo.read_text().split("[package]", 1)[1]
        return re.search(r'^version\s*=\s*"([^"]+)"', package, re.M)[1]
    info = (HERE / "PKG-INFO").read_text()
    return re.search(r"^Version: (.+)$", info, re.M)[1].strip()


class BuildPy(build_py):
    def run(self):
        place_component()
        super().run()


class Sdist(sdist):
    def run(self):
        place_component()
        super().run()


setup(version=version(), cmdclass={"build_py": BuildPy, "sdist": Sdist})
