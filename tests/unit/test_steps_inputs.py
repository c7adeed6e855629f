"""Pure input handling of the steps: SSH CIDR, TA keys, bucket names, bundles, registry."""

from __future__ import annotations

import gzip
import io
import subprocess
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from stemcell.cloud.s3 import bucket_name, pack_bundle
from stemcell.cloud.tags import run_tags, tag_spec
from stemcell.content.models import STEP_KINDS, LaunchRolesParams, StepSpec, TaAccessParams
from stemcell.engine.context import RunConfig
from stemcell.engine.errors import ConfigError
from stemcell.steps import REGISTRY, step_class
from stemcell.steps.step_create_security_group import ssh_cidr
from stemcell.steps.step_grant_ta_access import append_script, ta_keys

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm1nHZ9xUj0ysWZ0B3zfHv0t9qWQyQ3jz3v4q1mW8xP ta@c"


def test_ssh_cidr_rules() -> None:
    assert ssh_cidr(RunConfig(), simulated=True) == "127.0.0.1/32"
    assert ssh_cidr(RunConfig(ssh_cidr="203.0.113.7"), simulated=False) == "203.0.113.7/32"
    with pytest.raises(ConfigError, match="--ssh-cidr"):
        ssh_cidr(RunConfig(), simulated=False)
    with pytest.raises(ConfigError, match="whole internet"):
        ssh_cidr(RunConfig(ssh_cidr="0.0.0.0/0"), simulated=False)
    assert ssh_cidr(RunConfig(ssh_cidr="0.0.0.0/0", allow_ssh_from_anywhere=True),
                    simulated=False) == "0.0.0.0/0"
    with pytest.raises(ConfigError, match="not an IP network"):
        ssh_cidr(RunConfig(ssh_cidr="my-laptop"), simulated=False)


def test_ta_keys_merged_deduplicated_and_validated() -> None:
    ctx = SimpleNamespace(lab=SimpleNamespace(ta_keys=[KEY]),
                          config=RunConfig(ta_keys=[KEY, KEY.replace("ta@c", "other")]))
    keys = ta_keys(ctx, SimpleNamespace(keys=[KEY]))
    assert len(keys) == 2
    with pytest.raises(ConfigError, match="not an OpenSSH public key"):
        ta_keys(ctx, SimpleNamespace(keys=["-----BEGIN OPENSSH PRIVATE KEY-----"]))


def test_append_script_is_idempotent(tmp_path: Path) -> None:
    script = append_script([KEY, "ssh-rsa AAAAB3Nza x'; rm -rf / #"])
    for _ in range(2):
        subprocess.run(["bash", "-s"], input=script.encode(), env={"HOME": str(tmp_path),
                       "PATH": "/usr/bin:/bin"}, check=True, capture_output=True)
    lines = (tmp_path / ".ssh" / "authorized_keys").read_text().splitlines()
    assert lines == [KEY, "ssh-rsa AAAAB3Nza x'; rm -rf / #"]
    assert oct((tmp_path / ".ssh" / "authorized_keys").stat().st_mode & 0o777) == "0o600"


def test_bucket_name_is_valid() -> None:
    name = bucket_name("20261128-010203-ABC123_x")
    assert name == "stemcell-20261128-010203-abc123-x"
    assert 3 <= len(bucket_name("a" * 80)) <= 63


def test_bundle_bytes_depend_on_content_only(tmp_path: Path) -> None:
    (tmp_path / "web" / "static").mkdir(parents=True)
    (tmp_path / "web" / "app.py").write_text("print('hi')\n")
    (tmp_path / "web" / "static" / "index.html").write_text("<h1>ok</h1>")
    first = pack_bundle(tmp_path / "web")
    import os
    os.utime(tmp_path / "web" / "app.py", (1, 1))
    assert pack_bundle(tmp_path / "web") == first
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(first))) as tar:
        assert sorted(tar.getnames()) == ["app.py", "static", "static/index.html"]


def test_tags_and_specs() -> None:
    tags = run_tags("r1", "lab1", name="n", role="web", setup="2")
    assert {"Key": "stemcell:run", "Value": "r1"} in tags
    specs = tag_spec(tags, "instance", "volume")
    assert [s["ResourceType"] for s in specs] == ["instance", "volume"]


def test_registry_covers_every_kind() -> None:
    assert set(REGISTRY) == set(STEP_KINDS)
    for kind in STEP_KINDS:
        if kind in ("measure", "compare"):
            continue  # the timing area's modules
        assert step_class(kind).__name__.endswith("Step")


def test_params_are_read_as_their_kinds_model_only() -> None:
    spec = StepSpec(id="roles", title="Roles", kind="launch_roles", params={"setup": 2})
    params = spec.typed_params(LaunchRolesParams)
    assert (params.setup, params.count) == (2, 1)
    with pytest.raises(TypeError, match="has LaunchRolesParams params, not TaAccessParams"):
        spec.typed_params(TaAccessParams)
