"""A plain (non-editable) install carries the shipped labs and profiles."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_labs_profiles_and_bundles(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("stemcell-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "stemcell/_shipped/labs/lab1-stem-cell.yaml" in names
    assert "stemcell/_shipped/profiles/apache-python.yaml" in names
    assert "stemcell/_shipped/profiles/apache-php.yaml" in names
    assert "stemcell/_shipped/profiles/bundles/python/app-api/api.wsgi" in names
    assert any(n.startswith("stemcell/cloud/") for n in names)


def test_installed_stemcell_finds_its_content_from_any_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stemcell", "validate",
         "--help"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0
    code = ("from stemcell.content.shipped import shipped_dir; "
            "print(shipped_dir('labs') / 'lab1-stem-cell.yaml')")
    found = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60, check=True).stdout.strip()
    assert Path(found).is_file()


def test_every_package_stemcell_imports_is_declared_and_moto_stays_lean() -> None:
    import ast
    import importlib.metadata as md
    import re
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[\[<>=!~ ;]", req, maxsplit=1)[0].lower().replace("_", "-")
                for req in project["dependencies"]}
    imported: set[str] = set()
    for path in (ROOT / "src" / "stemcell").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "stemcell"}
    owners = md.packages_distributions()
    undeclared = {m: owners.get(m) for m in third_party
                  if not {d.lower().replace("_", "-") for d in owners.get(m, [])} & declared}
    assert not undeclared, f"imported but not in pyproject's dependencies: {undeclared}"
    # moto with the services the lab uses, never the server extra (cfn-lint, sympy,
    # docker, networkx, the X-Ray SDK), and an upper bound: stemcell uses its internals.
    (moto,) = [r for r in project["dependencies"] if r.startswith("moto")]
    assert "server" not in moto and "all" not in moto and "<" in moto
