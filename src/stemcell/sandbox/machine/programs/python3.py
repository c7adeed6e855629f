"""python3: runs the guest's Python programs for real, in the guest's isolated
worker (worker.py), never in stemcell's process.

``python3 FILE [ARGS]``, ``python3 -c CODE [ARGS]``, ``python3 -m MODULE``,
``python3 -`` and a script on standard input run with the shell's working folder
and exported variables, as the shell's user; output streams back as it comes and
the exit status is the program's (128+N when a signal ends it, Ctrl-C sends
SIGINT). ``--version`` answers the image's python3 package version; the
interpreter that runs programs is the host's (see docs/sandbox-guest.md).
"""

from __future__ import annotations

from stemcell.sandbox.machine import worker
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.shell import IO, Shell

# Options that take no value (python3 --help); anything else before the program is
# passed through as it is.
_FLAGS = {"-b", "-B", "-d", "-E", "-h", "-i", "-I", "-O", "-OO", "-P", "-q", "-s", "-S",
          "-u", "-v", "-x"}


@command("python3", "python3.12", "python3.10")
def python3(sh: Shell, argv: list[str], io: IO) -> int:
    pkgs = sh.system.disk.packages  # jammy images carry python3.10, noble python3.12
    version = (pkgs.get("python3.12") or pkgs.get("python3.10") or "3.12.3").split("-")[0]
    args = argv[1:]
    if args and args[0] in ("--version", "-V"):
        io.print(f"Python {version}")
        return 0
    if args and args[0] in ("-h", "--help"):
        io.print(f"usage: {argv[0]} [option] ... [-c cmd | -m mod | file | -] [arg] ...")
        return 0
    reads_stdin = True  # no program named: the script comes on standard input
    for i, arg in enumerate(args):
        if arg in ("-c", "-m") or (arg and not arg.startswith("-")):
            reads_stdin = False
            break
        if arg == "-":
            break
        if arg not in _FLAGS and not arg.startswith("-W") and not arg.startswith("-X"):
            io.eprint(f"unknown option {arg}")
            io.eprint(f"usage: {argv[0]} [option] ... [-c cmd | -m mod | file | -] [arg] ...")
            return 2
        _ = i
    # Standard input: a pipe inside the shell is handed over whole; an SSH client's
    # input only when the program is read from it (an exec channel's stdin may never
    # end, and most programs never read it).
    source = io.stdin_source()
    stdin = io.stdin if (reads_stdin or not callable(source)) else b""
    env = {k: v for k, v in sh.env.items() if k in sh.exported}
    return worker.worker_for(sh.system).run(
        ["/usr/bin/python3", *args], user=sh.user, cwd=sh.cwd, env=env, stdin=stdin,
        out=io.out, err=io.err, cancel=sh.cancel or sh.system.cancel)
