"""TA and student checks over SSH: per-step checks, class rosters, reports.

The API the CLI and the TUI use::

    planned = select(lab, steps=["launch-web"], role="web")
    report = run_checks(planned, HostSpec(host="54.1.2.3", key=Path("ta.pem")),
                        CheckOptions(deadline=60), on_result=print)
    report = run_roster(load_roster(Path("class.csv")), planned, options, jobs=8,
                        on_result=lambda host, result: ...)
    text = FORMATS["junit"](report)
"""

from stemcell.checks.check_runner import CheckOptions, run_checks, run_roster
from stemcell.checks.model import Cause, CheckResult, Exchange, HostReport, Report, Status
from stemcell.checks.plan import PlanError, PlannedCheck, order, select
from stemcell.checks.reporters import FORMATS
from stemcell.checks.roster import RosterError, load_roster
from stemcell.checks.student import run_hosts, run_options
from stemcell.checks.targets import HostSpec, running_sandbox

__all__ = [
    "FORMATS",
    "Cause",
    "CheckOptions",
    "CheckResult",
    "Exchange",
    "HostReport",
    "HostSpec",
    "PlanError",
    "PlannedCheck",
    "Report",
    "RosterError",
    "Status",
    "load_roster",
    "order",
    "run_checks",
    "run_hosts",
    "run_options",
    "run_roster",
    "running_sandbox",
    "select",
]
