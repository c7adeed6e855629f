"""Account gating and credentials: each AWS refusal explained, expiry checked before launch,
credential failures the steps did not catch turned into the commands to log in and clean up,
and the region taken from the session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import ClientError, TokenRetrievalError

from stemcell.cloud.aws_errors import explain, explain_unexpected
from stemcell.cloud.backend import open_backend
from stemcell.cloud.clients import credentials_expire_in, default_region
from stemcell.cloud.quotas import check_credentials_last, check_vcpus
from stemcell.engine.context import RunConfig
from stemcell.engine.errors import ConfigError, StepFailed


def _error(code: str, message: str = "refused") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "RunInstances")


@pytest.mark.parametrize(("code", "words"), [
    ("VcpuLimitExceeded", "L-1216C47A"),
    ("PendingVerification", "verif"),
    ("OptInRequired", "enable the Region"),
    ("OperationNotPermitted", "load balancers"),
    ("TooManyLoadBalancers", "load balancers"),
])
def test_each_account_gate_is_explained(code: str, words: str) -> None:
    failure = explain(_error(code), "launching web", region="eu-west-1")
    assert code in failure.message or "quota" in failure.message
    assert words in failure.hint


def test_expired_token_says_how_to_log_in_and_clean_up() -> None:
    failure = explain(_error("ExpiredToken"), "launching web", region="eu-west-1",
                      aws_profile="course", run_id="20261128-010203-abc123")
    assert "aws sso login --profile course" in failure.hint
    assert ("stemcell cleanup --run 20261128-010203-abc123 --backend aws --region eu-west-1 "
            "--aws-profile course") in failure.hint


def test_botocore_credential_errors_become_step_failures() -> None:
    failure = explain_unexpected(TokenRetrievalError(provider="sso", error_msg="expired"),
                                 region="us-east-1", aws_profile="dev", run_id="r1")
    assert failure is not None
    assert "aws sso login --profile dev" in failure.hint and "--run r1" in failure.hint
    assert explain_unexpected(ValueError("a bug")) is None
    assert explain_unexpected(_error("Throttling")) is None


def test_the_runner_uses_the_backends_words_for_an_uncaught_error(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "functional"))
    from ec2_support import make_cloud, make_ctx, make_lab

    from stemcell.engine.runner import Runner
    from stemcell.engine.step import BaseStep

    class Expiring(BaseStep):
        def run(self, ctx: Any) -> None:
            raise TokenRetrievalError(provider="sso", error_msg="token expired")

    ctx = make_ctx(tmp_path, make_cloud(), None, lab=make_lab([
        {"id": "x", "title": "X", "kind": "explain"}]))
    ctx.explain_error = lambda exc: explain_unexpected(exc, run_id=ctx.run_id)
    assert Runner(ctx, [Expiring(ctx.lab.steps[0])]).run() == "failed"
    assert "aws sso login" in ctx.state.reason
    assert f"stemcell cleanup --run {ctx.run_id}" in ctx.state.reason


def _session_expiring_in(seconds: float, method: str = "env") -> boto3.Session:
    session = boto3.Session(region_name="us-east-1")
    expiry = datetime.now(UTC) + timedelta(seconds=seconds)
    creds = RefreshableCredentials("AKIA", "secret", "token", expiry,
                                   refresh_using=lambda: {}, method=method)
    session._session._credentials = creds  # type: ignore[attr-defined]
    return session


class _Ctx:
    def __init__(self, session: boto3.Session) -> None:
        self.cloud = type("C", (), {"session": session, "region": "us-east-1"})()
        self.config = RunConfig(region="us-east-1", aws_profile="course")
        self.run_id = "20261128-010203-abc123"
        self.logs: list[tuple[str, str]] = []

    def log(self, message: str, level: str = "info") -> None:
        self.logs.append((message, level))


def test_credentials_expiring_before_the_lab_ends_are_refused_or_warned() -> None:
    assert credentials_expire_in(_session_expiring_in(600)) == pytest.approx(600, abs=5)
    with pytest.raises(StepFailed, match="expire in 9 min") as refused:
        check_credentials_last(_Ctx(_session_expiring_in(590)))
    assert "aws sso login --profile course" in refused.value.hint
    warned = _Ctx(_session_expiring_in(1800))
    check_credentials_last(warned)
    assert warned.logs and warned.logs[0][1] == "warning"
    assert "stemcell cleanup --run" in warned.logs[0][0]
    fine = _Ctx(_session_expiring_in(8 * 3600))
    check_credentials_last(fine)
    assert fine.logs == []
    # SSO and assumed roles renew themselves: their hour is not the run's deadline.
    assert credentials_expire_in(_session_expiring_in(600, method="sso")) is None
    static = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b",
                           region_name="us-east-1")
    assert credentials_expire_in(static) is None


class _Quotas:
    def __init__(self, quota: float, running: list[str]) -> None:
        self.quota, self.running = quota, running
        self.region = "eu-west-1"
        outer = self

        class _Paginator:
            def paginate(self, **kwargs: Any) -> Any:
                yield {"Reservations": [{"Instances": [{"InstanceType": t}
                                                       for t in outer.running]}]}

        class _Ec2:
            def get_paginator(self, name: str) -> Any:
                return _Paginator()

        class _Sq:
            def get_service_quota(self, **kwargs: Any) -> Any:
                assert kwargs == {"ServiceCode": "ec2", "QuotaCode": "L-1216C47A"}
                return {"Quota": {"Value": outer.quota}}

        self.ec2 = _Ec2()
        self._sq = _Sq()

    def client(self, name: str) -> Any:
        assert name == "service-quotas"
        return self._sq


def test_vcpu_quota_is_checked_before_launching() -> None:
    ctx = _Ctx(boto3.Session(region_name="eu-west-1"))
    ctx.cloud = _Quotas(16, ["t3.micro"] * 3)  # 6 in use
    check_vcpus(ctx, "t3.micro", 5)  # 6 + 10 = 16: fits
    with pytest.raises(StepFailed, match="needs 12 vCPUs") as refused:
        check_vcpus(ctx, "t3.micro", 6)
    assert "6 are in use" in refused.value.message and "quota" in refused.value.message
    assert "Nothing was launched" in refused.value.hint


def test_region_defaults_to_the_sessions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert default_region() == "eu-west-1"
    config = RunConfig(backend="aws")
    backend = open_backend(config, verify=False)
    assert backend.cloud.region == "eu-west-1" and config.region == "eu-west-1"
    explicit = RunConfig(backend="aws", region="ap-southeast-2")
    assert open_backend(explicit, verify=False).cloud.region == "ap-southeast-2"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert default_region() == "us-east-1"  # the sandbox's fallback
    with pytest.raises(ConfigError, match="no AWS region"):
        open_backend(RunConfig(backend="aws"), verify=False)


def test_run_region_option_has_no_fixed_default() -> None:
    from click.testing import CliRunner

    from stemcell.cli.cmd_run import run

    help_text = CliRunner().invoke(run, ["--help"]).output
    assert "AWS_REGION" in help_text and "default: us-east-1" not in help_text


def test_a_cleanup_that_loses_its_credentials_says_how_to_finish(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "functional"))
    from ec2_support import make_cloud, make_ctx, make_lab

    from stemcell.engine.events import Log
    from stemcell.engine.runner import Runner
    from stemcell.engine.step import BaseStep

    class Fails(BaseStep):
        def run(self, ctx: Any) -> None:
            raise StepFailed("something broke")

        def cleanup(self, ctx: Any) -> None:
            raise TokenRetrievalError(provider="sso", error_msg="token expired")

    ctx = make_ctx(tmp_path, make_cloud(), None, lab=make_lab([
        {"id": "x", "title": "X", "kind": "explain"}]))
    ctx.explain_error = lambda exc: explain_unexpected(exc, aws_profile="dev", run_id=ctx.run_id)
    logs: list[str] = []
    ctx.bus.subscribe(lambda e: logs.append(e.message) if isinstance(e, Log) else None)
    assert Runner(ctx, [Fails(ctx.lab.steps[0])]).run() == "failed"
    told = [line for line in logs if "aws sso login --profile dev" in line]
    assert len(told) == 1 and f"stemcell cleanup --run {ctx.run_id}" in told[0]
