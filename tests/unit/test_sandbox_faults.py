"""--faults specs: parsed and validated; the injector is seeded and counts what it did."""

from __future__ import annotations

import pytest

from stemcell.sandbox.faults import DEFAULT_NOT_FOUND, Faults, FaultSpec, FaultSpecError
from stemcell.sandbox.front_door import ApiRequest


def test_a_spec_parses_renders_and_defaults() -> None:
    spec = FaultSpec.parse("throttle=0.3, capacity=1,ami-failed=2,ssh-refused=60,"
                           "not-found=5,console-delay=90,s3-errors=0.2,seed=7")
    assert (spec.throttle, spec.capacity, spec.ami_failed, spec.ssh_refused) == (0.3, 1, 2, 60)
    assert (spec.not_found, spec.console_delay, spec.s3_errors, spec.seed) == (5, 90, 0.2, 7)
    assert FaultSpec.parse(spec.render()) == spec
    assert FaultSpec.parse("") == FaultSpec() and FaultSpec().render() == ""
    assert FaultSpec().not_found == DEFAULT_NOT_FOUND  # eventual consistency is always on


@pytest.mark.parametrize("bad, words", [
    ("throttle", "NAME=VALUE"), ("nope=1", "unknown fault"), ("throttle=x", "a number"),
    ("capacity=1.5", "an integer"), ("throttle=2", "between"), ("capacity=-1", "between"),
    ("throttle=0.1,throttle=0.2", "twice"), ("s3-errors=nan", "between"),
])
def test_bad_specs_say_what_is_wrong(bad: str, words: str) -> None:
    with pytest.raises(FaultSpecError, match=words):
        FaultSpec.parse(bad)


def request(service: str, operation: str, invocation: str = "a") -> ApiRequest:
    return ApiRequest(service=service, region="us-east-1", operation=operation, params={},
                      method="POST", path="/", query="",
                      headers={"amz-sdk-invocation-id": invocation, "authorization": "x"},
                      body=b"", access_key_id="k")


def test_throttling_is_seeded_and_capacity_refuses_every_attempt_of_the_first_calls() -> None:
    def pattern(seed: int) -> list[bool]:
        faults = Faults(FaultSpec(throttle=0.5, seed=seed))
        return [faults.filter(request("ec2", "DescribeImages")) is not None for _ in range(40)]

    assert pattern(3) == pattern(3) and any(pattern(3)) and not all(pattern(3))
    faults = Faults(FaultSpec(capacity=1))
    first = [faults.filter(request("ec2", "RunInstances", "call-1")) for _ in range(3)]
    assert all(r is not None and r.code == "InsufficientInstanceCapacity" for r in first)
    assert faults.filter(request("ec2", "RunInstances", "call-2")) is None
    slow = Faults(FaultSpec(s3_errors=0.9, seed=1)).filter(request("s3", "PutObject"))
    assert slow is not None and (slow.status, slow.code) == (503, "SlowDown")
    assert Faults(FaultSpec(ami_failed=1)).image_fails()


def test_bad_faults_on_the_command_line_are_exit_2_before_anything_starts(
        tmp_path: object) -> None:
    from click.testing import CliRunner

    from stemcell.cli import main

    cli = CliRunner()
    for args in (["sandbox", "start", "--faults", "throttle=abc"],
                 ["run", "--faults", "nope=1"],
                 ["run", "--backend", "aws", "--faults", "throttle=0.1"],
                 ["--faults", "capacity=-1"]):
        result = cli.invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert "faults" in result.output, (args, result.output)
