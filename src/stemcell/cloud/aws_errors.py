"""AWS errors turned into messages a student can act on.

botocore raises ``ClientError`` with an error code; most codes mean "this thing is
already gone" (fine during cleanup) or a handful of situations we can explain.
Anything else passes through unchanged and the runner reports it as it is.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from stemcell.engine.errors import StepFailed

# Codes AWS answers for a resource it created a moment ago and does not see yet
# (EC2's eventual consistency; S3's NoSuchBucket right after CreateBucket): the
# client retries them for ids it just created (api_retries), steps for a window
# (consistency_retry).
NOT_YET_VISIBLE = frozenset({
    "InvalidGroup.NotFound",
    "InvalidKeyPair.NotFound",
    "InvalidInstanceID.NotFound",
    "InvalidAMIID.NotFound",
    "InvalidSnapshot.NotFound",
    "NoSuchBucket",
})

# Codes meaning the resource does not exist (any more): cleanup treats them as done.
GONE_CODES = frozenset(
    {
        "InvalidInstanceID.NotFound",
        "InvalidInstanceID.Malformed",
        "InvalidAMIID.NotFound",
        "InvalidAMIID.Unavailable",
        "InvalidSnapshot.NotFound",
        "InvalidGroup.NotFound",
        "InvalidGroupId.Malformed",
        "InvalidKeyPair.NotFound",
        "NoSuchBucket",
        "TargetGroupNotFound",
        "LoadBalancerNotFound",
        "ListenerNotFound",
        "NotFound",
        "404",
    }
)

def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
    return str(exc)


def is_gone(exc: BaseException) -> bool:
    return error_code(exc) in GONE_CODES


def capacity_error(exc: ClientError, instance_type: str, region: str,
                   alternatives: list[str]) -> StepFailed:
    """InsufficientInstanceCapacity: say which type, and which other type to try."""
    others = ", ".join(alternatives) if alternatives else "another allowed type"
    return StepFailed(
        f"AWS has no spare {instance_type} capacity in {region} right now "
        f"({error_message(exc)})",
        hint=f"Try again in a few minutes, or choose another allowed type with "
        f"--instance-type ({others}).",
    )


CREDENTIAL_CODES = frozenset({
    "AuthFailure", "ExpiredToken", "ExpiredTokenException", "RequestExpired",
    "InvalidClientTokenId", "UnrecognizedClientException", "InvalidToken", "TokenRefreshRequired",
})


def login_again(aws_profile: str | None = None, run_id: str = "", region: str = "") -> str:
    """The exact commands to log in again and clean up what the run left."""
    profile = f" --profile {aws_profile}" if aws_profile else ""
    lines = [f"Log in again: `aws sso login{profile}` (SSO), or refresh the keys with "
             f"`aws configure{profile}` / your organisation's login tool."]
    if run_id:
        where = f" --backend aws --region {region}" if region else " --backend aws"
        extra = f" --aws-profile {aws_profile}" if aws_profile else ""
        lines.append(f"Then clean up what this run left: `stemcell cleanup --run {run_id}"
                     f"{where}{extra}` (or resume it: `stemcell run --resume {run_id}`).")
    return " ".join(lines)


def explain(exc: ClientError, doing: str, *, region: str = "", aws_profile: str | None = None,
            run_id: str = "") -> StepFailed:
    """A StepFailed for a ClientError we have a better word for, else the raw one.

    The codes and what to do about them: "Error codes for the Amazon EC2 API"
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html) and
    "On-Demand Instance quotas" (Amazon EC2 User Guide).
    """
    code = error_code(exc)
    message = error_message(exc)
    if code in ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException"):
        return StepFailed(
            f"{doing}: not allowed for these credentials ({code})",
            hint="Your IAM user or role needs EC2, S3 and ELB permissions for this lab.",
        )
    if code == "VcpuLimitExceeded":
        return StepFailed(
            f"{doing}: the account's vCPU quota for On-Demand Standard instances in "
            f"{region or 'this region'} is reached ({message})",
            hint="Terminate instances you no longer need, or ask for more: Service Quotas > "
            "Amazon EC2 > 'Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances' "
            "(L-1216C47A) > Request increase. New accounts start low; a request for 16 vCPUs "
            "is usually granted within a day.",
        )
    if code == "InstanceLimitExceeded":
        return StepFailed(f"{doing}: the account's instance limit is reached ({message})",
                          hint="Terminate instances you no longer need, or ask for a quota "
                          "increase in Service Quotas.")
    if code == "PendingVerification":
        return StepFailed(
            f"{doing}: AWS is still verifying this new account ({code})",
            hint="New accounts may not launch instances in some Regions until AWS has "
            "verified them, usually within minutes, sometimes up to four hours. Wait for "
            "the e-mail from AWS, or contact AWS Support if it takes longer; nothing is billed "
            "meanwhile.",
        )
    if code == "OptInRequired":
        return StepFailed(
            f"{doing}: this account is not subscribed to the service, or the Region "
            f"{region or ''} is not enabled ({code})".replace("  ", " "),
            hint="Finish the account's sign-up (payment method, phone verification), or "
            "enable the Region under Account > AWS Regions, or use a Region that is "
            "enabled by default (such as us-east-1).",
        )
    if code in ("OperationNotPermitted", "TooManyLoadBalancers"):
        return StepFailed(
            f"{doing}: AWS refused the load balancer ({code}: {message})",
            hint="New accounts are sometimes not allowed to create load balancers until "
            "AWS Support enables them (open a case: 'Service limit increase' > Elastic Load "
            "Balancing). Delete unused load balancers if the account is at its limit.",
        )
    if code in CREDENTIAL_CODES:
        return StepFailed(
            f"{doing}: AWS rejected the credentials ({code})",
            hint=login_again(aws_profile, run_id, region),
        )
    return StepFailed(f"{doing}: {code or 'error'}: {message}")


def explain_unexpected(exc: BaseException, *, region: str = "", aws_profile: str | None = None,
                       run_id: str = "") -> StepFailed | None:
    """A credential failure the steps did not catch (botocore raises them while signing:
    an SSO token expired, a credential process failed), as a StepFailed that says how to
    log in again and clean up; None for anything else."""
    from botocore.exceptions import (
        BotoCoreError,
        CredentialRetrievalError,
        NoCredentialsError,
        PartialCredentialsError,
        SSOError,
        TokenRetrievalError,
    )

    if isinstance(exc, ClientError):
        if error_code(exc) in CREDENTIAL_CODES:
            return explain(exc, "calling AWS", region=region, aws_profile=aws_profile,
                           run_id=run_id)
        return None
    credential_errors = (CredentialRetrievalError, NoCredentialsError, PartialCredentialsError,
                         SSOError, TokenRetrievalError)
    if isinstance(exc, credential_errors) or (
            isinstance(exc, BotoCoreError) and "token" in str(exc).lower()):
        return StepFailed(f"the AWS credentials stopped working: {exc}",
                          hint=login_again(aws_profile, run_id, region))
    return None
