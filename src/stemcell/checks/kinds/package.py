"""package: installed (and optionally at a version), as dpkg sees it."""

from __future__ import annotations

from stemcell.checks.kinds.base import Verdict, first_line, q
from stemcell.checks.probe import Probe
from stemcell.content.models import CheckSpec


def check(spec: CheckSpec, probe: Probe) -> Verdict:
    name = spec.name or ""
    # "-f FORMAT" as two words: every dpkg-query (and the sandbox's) reads it the same.
    result = probe.sh(f"dpkg-query -W -f {q('${Status} ${Version}')} {q(name)}")
    line = first_line(result.stdout)
    expected = f"{name} installed" + (f", version {spec.version}*" if spec.version else "")
    if result.exit_status != 0 or not line.startswith("install ok installed"):
        actual = f"{name} not installed" + (f" ({line})" if line else "")
        return Verdict(False, expected, actual)
    version = line[len("install ok installed") :].strip()
    actual = f"{name} installed, version {version}"
    if spec.version and not version.startswith(spec.version):
        return Verdict(False, expected, actual, f"version {version} is not {spec.version}")
    return Verdict(True, expected, actual)
