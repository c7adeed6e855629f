"""What a lab and a profile are.

A *lab* is the lesson: ordered steps, each with an explanation, the kind of
work it does, checks that prove it was done, and hints. A *profile* is the
stack: which base image, which packages, the bake script, and per role the
boot script for setup #2 (baked image) and the install-at-boot script for
setup #1 (base image).
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"

# Variables a boot or install script may use as {{name}}; filled in at launch.
SCRIPT_VARIABLES = frozenset({"bundle_url", "role", "run_id", "lab", "profile"})
_VAR_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=Strict)


# --- step kinds and their parameters -------------------------------------------------


class NoParams(Strict):
    pass


class LaunchRolesParams(Strict):
    setup: Literal[1, 2]
    roles: list[str] = Field(default_factory=lambda: ["web", "app-api", "app-worker"])
    count: int = Field(default=1, ge=1, le=20)


class TaAccessParams(Strict):
    keys: list[str] = Field(default_factory=list)


class ShareImageParams(Strict):
    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")


class LoadBalancerParams(Strict):
    roles: list[str] = Field(default_factory=lambda: ["web"])
    setup: Literal[1, 2] = 2


STEP_KINDS: dict[str, type[Strict]] = {
    "explain": NoParams,
    "find_base_image": NoParams,
    "key_pair": NoParams,
    "security_group": NoParams,
    "launch_builder": NoParams,
    "provision": NoParams,
    "grant_ta_access": TaAccessParams,
    "stop_builder": NoParams,
    "create_image": NoParams,
    "upload_bundles": NoParams,
    "launch_roles": LaunchRolesParams,
    "measure": NoParams,
    "compare": NoParams,
    "load_balancer": LoadBalancerParams,
    "share_image": ShareImageParams,
    "cleanup": NoParams,
}


# --- checks --------------------------------------------------------------------------

CheckKind = Literal[
    "package",
    "service",
    "socket",
    "file",
    "command",
    "http",
    "image",
    "instance",
]


class CheckSpec(Strict):
    """One TA/student check, in testinfra's vocabulary."""

    id: str = Field(pattern=ID_PATTERN)
    kind: CheckKind
    description: str
    fail: str = ""
    hint: str = ""
    depends: list[str] = Field(default_factory=list)
    # Which server to check: the builder, a role, or "any" host the TA names.
    target: str = "any"
    # package
    name: str | None = None
    version: str | None = None
    # service
    active: bool | None = None
    enabled: bool | None = None
    # socket
    port: int | None = Field(default=None, ge=1, le=65535)
    # file
    path: str | None = None
    mode: str | None = Field(default=None, pattern=r"^0?[0-7]{3,4}$")
    owner: str | None = None
    contains: str | None = None
    exists: bool = True
    # command
    command: str | None = None
    exit_status: int | None = None
    stdout_contains: str | None = None
    # http
    url_path: str | None = None
    status: int | None = None
    body_contains: str | None = None
    where: Literal["checker", "guest"] = "checker"
    # cloud facts (image / instance)
    tag: dict[str, str] | None = None
    shared_with: str | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> CheckSpec:
        needed = {
            "package": ["name"],
            "service": ["name"],
            "socket": ["port"],
            "file": ["path"],
            "command": ["command"],
            "http": ["url_path"],
            "image": [],
            "instance": [],
        }[self.kind]
        missing = [f for f in needed if getattr(self, f) is None]
        if missing:
            raise ValueError(f"a {self.kind} check needs {', '.join(missing)}")
        return self


# --- labs ----------------------------------------------------------------------------


class StepSpec(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str
    kind: str
    explain: str = ""
    does: list[str] = Field(default_factory=list)
    api_calls: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    checks: list[CheckSpec] = Field(default_factory=list)
    hints: list[str] = Field(default_factory=list)
    optional: bool = False

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in STEP_KINDS:
            known = ", ".join(sorted(STEP_KINDS))
            raise ValueError(f"unknown step kind {value!r} (known: {known})")
        return value

    @field_validator("params")
    @classmethod
    def _params_fit_kind(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = info.data.get("kind")
        if kind in STEP_KINDS:
            # Errors keep their place: pydantic nests them under steps[i].params.
            STEP_KINDS[kind].model_validate(value)
        return value

    def typed_params(self, model: type[P]) -> P:
        """The params as ``model``, which must be this step kind's (``STEP_KINDS``)."""
        if STEP_KINDS[self.kind] is not model:
            raise TypeError(f"step {self.id} ({self.kind}) has {STEP_KINDS[self.kind].__name__}"
                            f" params, not {model.__name__}")
        return model.model_validate(self.params)


class Autopilot(Strict):
    """Where the course lets stemcell do the lab for the student (guided mode, "show me").

    ``aws: false`` keeps the graded work the student's own: on AWS only hands-on
    mode is offered, and "show me" is refused. See docs/handson.md.
    """

    sandbox: bool = True
    aws: bool = True

    def allows(self, backend: str) -> bool:
        return self.aws if backend == "aws" else self.sandbox


class Lab(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str
    summary: str = ""
    default_profile: str = "apache-python"
    ta_keys: list[str] = Field(default_factory=list)
    course_account: str | None = Field(default=None, pattern=r"^\d{12}$")
    autopilot: Autopilot = Field(default_factory=Autopilot)
    steps: list[StepSpec]

    @model_validator(mode="after")
    def _unique_ids(self) -> Lab:
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"duplicate step id {step.id!r}")
            seen.add(step.id)
        check_ids = {c.id for s in self.steps for c in s.checks}
        for step in self.steps:
            for check in step.checks:
                for dep in check.depends:
                    if dep not in check_ids:
                        raise ValueError(f"check {check.id!r} depends on unknown check {dep!r}")
        return self

    def step(self, step_id: str) -> StepSpec:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)


# --- profiles ------------------------------------------------------------------------


class BaseImage(Strict):
    owner: str = Field(pattern=r"^\d{12}$")
    name: str  # DescribeImages name filter, wildcards allowed
    architecture: Literal["x86_64", "arm64"] = "x86_64"


class Package(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.+-]+$")
    download_kb: int = Field(ge=0)
    why: str = ""


class Health(Strict):
    path: str = Field(pattern=r"^/")
    expect: str
    port: int = Field(default=80, ge=1, le=65535)


class Role(Strict):
    title: str
    description: str = ""
    bundle: str  # folder (relative to the profile file) holding the role's code
    health: Health
    ports: list[int] = Field(default_factory=lambda: [80])


class Profile(Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str
    description: str = ""
    base_image: BaseImage
    instance_type: str = "t3.micro"
    packages: list[Package]
    bake_script: str
    roles: dict[str, Role]
    boot_scripts: dict[str, str]
    install_scripts: dict[str, str]
    sources: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _scripts_match_roles(self) -> Profile:
        for field_name in ("boot_scripts", "install_scripts"):
            scripts: dict[str, str] = getattr(self, field_name)
            for role in scripts:
                if role not in self.roles:
                    raise ValueError(
                        f"{field_name} names role {role!r}, which is not defined under roles"
                    )
            for role in self.roles:
                if role not in scripts:
                    raise ValueError(f"role {role!r} has no script under {field_name}")
            for role, script in scripts.items():
                for var in _VAR_RE.findall(script):
                    if var not in SCRIPT_VARIABLES:
                        known = ", ".join(sorted(SCRIPT_VARIABLES))
                        raise ValueError(
                            f"{field_name}.{role} uses unknown variable {{{{{var}}}}} "
                            f"(known: {known})"
                        )
        return self

    def render(self, script: str, variables: dict[str, str]) -> str:
        return _VAR_RE.sub(lambda m: variables[m.group(1)], script)
