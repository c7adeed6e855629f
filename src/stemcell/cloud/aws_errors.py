"""AWS errors turned into messages a student can act on.

botocore raises ``ClientError`` with an error code; most codes mean "this thing is
already gone" (fine during cleanup) or a handful of situations we can explain.
Anything else passes through unchanged and the runner reports it as it is.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from stemcell.engine.errors import StepFailed

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


def explain(exc: ClientError, doing: str) -> StepFailed:
    """A StepFailed for a ClientError we have a better word for, else the raw one."""
    code = error_code(exc)
    message = error_message(exc)
    if code in ("UnauthorizedOperation", "AccessDenied", "AccessDeniedException"):
        return StepFailed(
            f"{doing}: not allowed for these credentials ({code})",
            hint="Your IAM user or role needs EC2, S3 and ELB permissions for this lab.",
        )
    if code in ("VcpuLimitExceeded", "InstanceLimitExceeded"):
        return StepFailed(
            f"{doing}: the account's instance limit is reached ({message})",
            hint="Terminate instances you no longer need, or ask for a quota increase.",
        )
    if code in ("AuthFailure", "ExpiredToken", "RequestExpired"):
        return StepFailed(
            f"{doing}: AWS rejected the credentials ({code})",
            hint="Refresh them (aws sso login / aws configure) and resume the run.",
        )
    return StepFailed(f"{doing}: {code or 'error'}: {message}")
