"""a2enmod/a2ensite/a2enconf (and dis*), apache2ctl, apache2 -v, php."""

from __future__ import annotations

from stemcell.sandbox.machine import apache_server, php, software_versions
from stemcell.sandbox.machine.disk import ROOT
from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.shell import IO, Shell
from stemcell.sandbox.machine.system import ServiceError

_TOOLS = {
    "a2enmod": ("mod", True, "restart"), "a2dismod": ("mod", False, "restart"),
    "a2ensite": ("site", True, "reload"), "a2dissite": ("site", False, "reload"),
    "a2enconf": ("conf", True, "reload"), "a2disconf": ("conf", False, "reload"),
}


@command(*_TOOLS)
def a2tool(sh: Shell, argv: list[str], io: IO) -> int:
    kind, on, action = _TOOLS[argv[0]]
    names = [a for a in argv[1:] if not a.startswith("-")]
    quiet = "-q" in argv or "--quiet" in argv
    if not names:
        io.eprint(f"Usage: {argv[0]} [-q|--quiet] [-f|--force] [-m|--maintmode] name...")
        return 1
    disk = sh.system.disk
    status = 0
    changed = False
    for name in names:
        _, enabled_dir, ext = apache_server.KINDS[kind]
        if sh.user != ROOT:
            io.eprint(f"ERROR: Could not create /etc/apache2/{enabled_dir}/"
                      f"{name.removesuffix(ext)}{ext}: Permission denied")
            status = 1
            continue
        with sh.system.lock:
            code, msg = (apache_server.enable if on else apache_server.disable)(disk, kind, name)
        if code:
            io.eprint(msg)
            status = code
            continue
        changed = changed or "already" not in msg
        if not quiet:
            io.print(msg)
    if changed and not quiet:
        io.print("To activate the new configuration, you need to run:")
        io.print(f"  systemctl {action} apache2")
    return status


def _version(sh: Shell, io: IO) -> int:
    """``apache2 -v``: the installed apache2-bin's version (2.4.52 on jammy, 2.4.58 on
    noble), with Ubuntu's ServerTokens OS suffix."""
    system = sh.system
    io.print(f"Server version: {software_versions.server_banner(system.disk, system.catalogue)}"
             "\nServer built:   2024-10-02T12:40:51")
    return 0


@command("apache2")
def apache2(sh: Shell, argv: list[str], io: IO) -> int:
    """The server binary itself: only ``-v`` (everything else goes through apache2ctl,
    which sources /etc/apache2/envvars as Ubuntu's apache2 needs)."""
    if argv[1:] in (["-v"], ["-V"]):
        return _version(sh, io)
    io.eprint(f"not simulated in the sandbox: {' '.join(argv)} (it would run on AWS; "
              "apache2ctl is simulated)")
    return 127


@command("apache2ctl", "apachectl")
def apache2ctl(sh: Shell, argv: list[str], io: IO) -> int:
    args = argv[1:]
    verb = args[0] if args else ""
    system = sh.system
    cfg = apache_server.read_config(system.disk)
    if verb in ("-t", "configtest"):
        for err in cfg.errors:
            io.eprint(err)
        if cfg.errors:
            return 1
        if not any(line.strip().lower().startswith("servername")
                   for _, line in apache_server.config_lines(system.disk)):
            io.eprint("AH00558: apache2: Could not reliably determine the server's fully "
                      f"qualified domain name, using {system.private_ip}. Set the 'ServerName'"
                      " directive globally to suppress this message")
        io.eprint("Syntax OK")
        return 0
    if verb in ("-M", "-t -D DUMP_MODULES"):
        if cfg.errors:
            for err in cfg.errors:
                io.eprint(err)
            return 1
        io.print("Loaded Modules:")
        for static in ("core", "so", "watchdog", "http", "log_config", "logio", "version",
                       "unixd"):
            io.print(f" {static}_module (static)")
        for mod in sorted(cfg.modules):
            io.print(f" {mod}_module (shared)")
        return 0
    if verb in ("-v", "-V"):
        return _version(sh, io)
    if verb in ("start", "stop", "restart", "graceful", "graceful-stop"):
        if sh.user != ROOT:
            io.eprint("(13)Permission denied: AH00091: apache2: could not open error log file "
                      "/var/log/apache2/error.log.\nAH00015: Unable to open logs\n"
                      "Action '" + verb + "' failed.")
            return 1
        try:
            if verb == "start":
                system.start_service("apache2")
            elif verb.endswith("stop"):
                system.stop_service("apache2")
            else:
                system.restart_service("apache2")
        except ServiceError as exc:
            io.eprint(str(exc))
            return 1
        return 0
    io.eprint(f"not simulated in the sandbox: apache2ctl {verb} (it would run on AWS)")
    return 127


@command("php", "php8.1", "php8.3")
def php_cli(sh: Shell, argv: list[str], io: IO) -> int:
    """PHP's CLI over the sandbox's PHP evaluator (php.py): ``-v``/``--version``,
    ``-r CODE``, ``FILE``. The version is the image's php package's (software_versions)."""
    system = sh.system
    args = argv[1:]
    if args in (["-v"], ["--version"]):
        io.print(software_versions.php_banner(system.disk, system.catalogue))
        return 0
    if len(args) == 2 and args[0] == "-r":
        source, where = "<?php " + args[1], "Command line code"
    elif len(args) == 1 and not args[0].startswith("-"):
        where = sh.path(args[0])
        if not system.disk.is_file(where):
            io.eprint(f"Could not open input file: {args[0]}")
            return 1
        if not system.disk.can_read(where, sh.user):
            io.eprint(f"PHP Warning:  Unknown: Failed to open stream: Permission denied "
                      f"in Unknown on line 0\nCould not open input file: {args[0]}")
            return 1
        source = system.disk.read_text(where)
    else:
        io.eprint(f"not simulated in the sandbox: {' '.join(argv)} (it would run on AWS; "
                  "php -v, php -r CODE and php FILE are simulated)")
        return 127
    ctx = php.PhpContext(hostname=system.hostname, now=system.wall_now,
                         version=software_versions.php_version(system.disk, system.catalogue),
                         server={"PHP_SELF": where, "SCRIPT_NAME": where,
                                 "SCRIPT_FILENAME": where})
    try:
        io.out(php.render(source, ctx).encode())
    except php.PhpError as exc:
        io.eprint(f"PHP Parse error:  {exc} in {where} on line 1")
        return 255
    return 0
