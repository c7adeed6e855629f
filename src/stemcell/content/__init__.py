"""Lab and profile content: models and a loader whose errors name file:line:col."""

from stemcell.content.loader import ContentError, Problem, load_lab, load_profile, validate_paths
from stemcell.content.models import CheckSpec, Lab, Profile, Role, StepSpec

__all__ = [
    "CheckSpec",
    "ContentError",
    "Lab",
    "Problem",
    "Profile",
    "Role",
    "StepSpec",
    "load_lab",
    "load_profile",
    "validate_paths",
]
