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
    code = ("from stemcell import paths; "
            "print(paths.shipped_dir('labs') / 'lab1-stem-cell.yaml')")
    found = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60, check=True).stdout.strip()
    assert Path(found).is_file()
