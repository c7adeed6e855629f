"""The front door: filters see parsed requests and refuse in each service's own format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from stemcell.sandbox.front_door import ApiRequest, Refusal
from stemcell.sandbox.runtime import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(speed=100) as sb:
        yield sb


def client(sb: Sandbox, service: str) -> Any:
    return boto3.client(service, region_name="eu-west-1", endpoint_url=sb.endpoint_url,
                        aws_access_key_id=sb.credentials.access_key_id,
                        aws_secret_access_key=sb.credentials.secret_access_key,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def test_filters_see_the_parsed_request_and_refuse_per_service(sandbox: Sandbox) -> None:
    seen: list[ApiRequest] = []

    def refuse(request: ApiRequest) -> Refusal | None:
        seen.append(request)
        if request.operation in ("DescribeInstances", "DescribeLoadBalancers", "ListBuckets"):
            return Refusal(400 if request.service != "s3" else 503,
                           "Throttling" if request.service != "s3" else "SlowDown", "slow down")
        return None

    sandbox.front_door.add_filter(refuse)
    try:
        with pytest.raises(ClientError) as ec2_error:
            client(sandbox, "ec2").describe_instances(InstanceIds=["i-0123", "i-0456"])
        with pytest.raises(ClientError) as elb_error:
            client(sandbox, "elbv2").describe_load_balancers()
        with pytest.raises(ClientError) as s3_error:
            client(sandbox, "s3").list_buckets()
        client(sandbox, "ec2").describe_regions()  # not refused: reaches moto
    finally:
        sandbox.front_door.filters.remove(refuse)
    assert ec2_error.value.response["Error"]["Code"] == "Throttling"
    assert elb_error.value.response["Error"]["Code"] == "Throttling"
    assert s3_error.value.response["Error"]["Code"] == "SlowDown"
    first = seen[0]
    assert (first.service, first.region, first.operation) == ("ec2", "eu-west-1",
                                                              "DescribeInstances")
    assert first.params_like("InstanceId") == ["i-0123", "i-0456"]
    assert first.access_key_id == sandbox.credentials.access_key_id
    assert [r.service for r in seen] == ["ec2", "elasticloadbalancing", "s3", "ec2"]


def test_observers_see_moto_s_answer(sandbox: Sandbox) -> None:
    answers: list[tuple[str, int, bytes]] = []
    sandbox.front_door.add_observer(lambda r, status, body: answers.append(
        (r.operation, status, body)))
    try:
        client(sandbox, "ec2").describe_regions()
    finally:
        sandbox.front_door.observers.clear()
    assert answers and answers[0][0] == "DescribeRegions" and answers[0][1] == 200
    assert b"eu-west-1" in answers[0][2]
