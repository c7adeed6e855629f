"""A tiny getopt for the simulated commands (clustered short flags, long flags)."""

from __future__ import annotations

from dataclasses import dataclass, field

from stemcell.sandbox.machine.shell import CmdError


@dataclass
class Opts:
    flags: set[str] = field(default_factory=set)
    values: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)

    def has(self, *names: str) -> bool:
        return any(n in self.flags for n in names)

    def get(self, *names: str) -> str | None:
        for n in names:
            if n in self.values:
                return self.values[n]
        return None


def parse(argv: list[str], *, short: str = "", valued: str = "", long: tuple[str, ...] = (),
          long_valued: tuple[str, ...] = (), strict: bool = True) -> Opts:
    """Parse ``argv`` (without the command name). Unknown options raise CmdError if strict."""
    o = Opts()
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            o.args.extend(argv[i + 1:])
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, val = a[2:].partition("=")
            if name in long_valued:
                if not eq:
                    i += 1
                    if i >= len(argv):
                        raise CmdError(f"option '--{name}' requires an argument", 2)
                    val = argv[i]
                o.values[name] = val
            elif name in long or not strict:
                o.flags.add(name)
            else:
                raise CmdError(f"unrecognized option '--{name}'", 2)
        elif a.startswith("-") and len(a) > 1 and not a[1:].isdigit():
            j = 1
            while j < len(a):
                c = a[j]
                if c in valued:
                    val = a[j + 1:]
                    if not val:
                        i += 1
                        if i >= len(argv):
                            raise CmdError(f"option requires an argument -- '{c}'", 2)
                        val = argv[i]
                    o.values[c] = val
                    break
                if c in short or not strict:
                    o.flags.add(c)
                else:
                    raise CmdError(f"invalid option -- '{c}'", 2)
                j += 1
        else:
            o.args.append(a)
        i += 1
    return o
