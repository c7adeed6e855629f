"""Install footprint: what `pip install .` (no test extras) puts into a fresh venv.

    python bench/install.py [--keep DIR]

Makes a new venv in a temporary folder, runs `pip install .` from this checkout, and
prints the size of the venv's site-packages (MB), the number of installed
distributions (pip itself and setuptools left out), and whether any of the heavy
packages that moto's `server` extra would drag in slipped back in. Goal: under 200 MB,
none of the heavy ones. Network access to the package index is needed (or a warm
pip cache).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What `moto[server]` used to bring (issue 15): none of these may come back.
HEAVY = ("sympy", "cfn-lint", "docker", "networkx", "aws-xray-sdk", "mpmath",
         "openapi-spec-validator", "graphql-core", "antlr4-python3-runtime")
GOAL_MB = 200


def tree_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            full = Path(dirpath, name)
            if not full.is_symlink():
                total += full.stat().st_size
    return total


def measure(venv: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    started = time.monotonic()
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    str(ROOT)], check=True)
    took = time.monotonic() - started
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json",
                             "--disable-pip-version-check"],
                            check=True, capture_output=True, text=True).stdout
    names = sorted(d["name"].lower().replace("_", "-") for d in json.loads(listed)
                   if d["name"].lower() not in ("pip", "setuptools"))
    site = next((venv / "lib").glob("python3*/site-packages"))
    size_mb = tree_size(site) / 1e6
    heavy = [n for n in HEAVY if n in names]
    print(f"pip install . : {size_mb:.0f} MB in site-packages, {len(names)} packages "
          f"(goal < {GOAL_MB} MB), installed in {took:.0f} s")
    print(f"heavy packages present: {', '.join(heavy) if heavy else 'none'}")
    print("packages: " + " ".join(names))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="make the venv here and keep it")
    args = parser.parse_args()
    if args.keep:
        measure(args.keep)
        return
    with tempfile.TemporaryDirectory(prefix="stemcell-install-") as tmp:
        measure(Path(tmp) / "venv")


if __name__ == "__main__":
    main()
