"""`eval "$(stemcell sandbox env)"` points the real AWS CLI at a background sandbox.

The whole path a student takes: start the sandbox in the background, eval its
`export` lines in bash, use `aws` as against AWS; then the attacker's path:
the same commands with any other credentials are refused as AWS refuses them.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(not (BIN / "aws").exists() or shutil.which("bash") is None,
                                reason="the AWS CLI (pip install awscli, a test extra) and bash")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(STEMCELL_HOME=str(home), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               NO_PROXY="127.0.0.1,localhost")
    return env


def _stemcell(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stemcell", *args], env=_env(home), text=True,
                          capture_output=True, timeout=180)


def _bash(home: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", script], env=_env(home), text=True, cwd=home,
                          capture_output=True, timeout=180)


@pytest.fixture
def background(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    started = _stemcell(home, "sandbox", "start", "--speed", "200")
    assert started.returncode == 0, started.stderr
    try:
        yield home
    finally:
        stopped = _stemcell(home, "sandbox", "stop")
        assert stopped.returncode == 0, stopped.stderr


def test_the_daemon_holds_none_of_the_users_aws_variables(tmp_path: Path) -> None:
    if not Path("/proc/self/environ").exists():
        pytest.skip("reads the daemon's environment from /proc (Linux)")
    home = tmp_path / "home"
    home.mkdir()
    env = dict(_env(home), AWS_ACCESS_KEY_ID="AKIAREALUSERKEY00001",
               AWS_SECRET_ACCESS_KEY="real-secret", AWS_PROFILE="work")
    started = subprocess.run([sys.executable, "-m", "stemcell", "sandbox", "start",
                              "--speed", "200", "--json"], env=env, text=True,
                             capture_output=True, timeout=180)
    assert started.returncode == 0, started.stderr
    try:
        pid = json.loads(started.stdout)["pid"]
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert [v for v in environ if v.startswith(b"AWS_")] == []
        assert oct((home / "sandbox.json").stat().st_mode & 0o777) == "0o600"
    finally:
        assert _stemcell(home, "sandbox", "stop").returncode == 0


def test_the_aws_cli_works_after_eval_and_fails_without(background: Path) -> None:
    env = _stemcell(background, "sandbox", "env")
    assert env.returncode == 0, env.stderr
    lines = env.stdout.splitlines()
    assert lines.pop(0) == "unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE " \
                           "AWS_DEFAULT_PROFILE"
    names = [line.split("=", 1)[0] for line in lines]
    assert names == ["export AWS_ENDPOINT_URL", "export AWS_ACCESS_KEY_ID",
                     "export AWS_SECRET_ACCESS_KEY", "export AWS_DEFAULT_REGION",
                     "export AWS_REGION"]
    images = ("aws ec2 describe-images --owners 099720109477 "
              "--filters 'Name=name,Values=ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-*' "
              "--query 'Images[].ImageId' --output text")
    s3 = "aws s3 mb s3://eval-works && aws s3 ls"
    # A session token left in the shell from real AWS work is dropped by the eval.
    ok = _bash(background, f'set -e\nexport AWS_SESSION_TOKEN=real-session-token\n'
                           f'eval "$(stemcell sandbox env)"\n{images}\n{s3}\n')
    assert ok.returncode == 0, ok.stderr
    assert "ami-" in ok.stdout and "make_bucket: eval-works" in ok.stdout
    assert ok.stdout.rstrip().endswith("eval-works")
    # An upload, a download, ELBv2, and a presigned URL fetched with no credentials at all.
    fetch = (f"{shlex.quote(sys.executable)} -c 'import sys, urllib.request; "
             "print(urllib.request.urlopen(sys.argv[1]).read().decode())'")
    more = _bash(background, f"""set -e
eval "$(stemcell sandbox env)"
echo 'hello sandbox' > hello.txt
aws s3 cp hello.txt 's3://eval-works/dir/hello world.txt'
aws s3 cp 's3://eval-works/dir/hello world.txt' -
aws elbv2 describe-load-balancers --query 'length(LoadBalancers)'
# AWS CLI v1 presigns with SigV2 unless told otherwise; S3 refuses SigV2 for buckets
# made since 2020, and so does the sandbox.
v2=$(aws s3 presign 's3://eval-works/dir/hello world.txt' --expires-in 300)
{fetch} "$v2" 2> v2.err || echo "v2 refused"
printf '[default]\ns3 =\n    signature_version = s3v4\n' > config
export AWS_CONFIG_FILE=$PWD/config
url=$(aws s3 presign 's3://eval-works/dir/hello world.txt' --expires-in 300)
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
{fetch} "$url"
""")
    assert more.returncode == 0, more.stderr
    assert more.stdout.count("hello sandbox") == 2 and "\n0\n" in more.stdout
    assert "v2 refused" in more.stdout and "400" in (background / "v2.err").read_text()

    # The same endpoint with anyone else's keys (or none) is refused as AWS refuses.
    endpoint = dict(line.removeprefix("export ").split("=", 1) for line in lines)[
        "AWS_ENDPOINT_URL"]
    foreign = (f"export AWS_ENDPOINT_URL={shlex.quote(shlex.split(endpoint)[0])} "
               "AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE "
               "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    refused = _bash(background, foreign + images)
    assert refused.returncode != 0 and "AuthFailure" in refused.stderr
    refused = _bash(background, foreign + "aws s3 ls")
    assert refused.returncode != 0 and "InvalidAccessKeyId" in refused.stderr
    unsigned = _bash(background, foreign + "aws s3 ls s3://eval-works --no-sign-request")
    assert unsigned.returncode != 0 and "AccessDenied" in unsigned.stderr
