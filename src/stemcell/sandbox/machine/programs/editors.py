"""Full-screen editors over the session's PTY: nano (GNU nano 7.2, Ubuntu 24.04's) and
vi (vim.tiny basics), drawn with ANSI escapes on the alternate screen.

nano: typing inserts; arrows, Home/End, PgUp/PgDn move; Enter/Backspace/Delete;
^O writes out (asks for the file name), ^S saves, ^X exits (asking "Save modified
buffer?" Y/N/^C), ^K cuts a line and ^U pastes it, ^W searches.
vi: normal mode h j k l, arrows, 0 $ gg G, x, dd, i a o O A I, Esc; `:w` `:q` `:wq`
`:x` `:q!` `:w!`, ZZ; `/text` and n to search.
Saving follows the user's permissions (nano's "[ Error writing FILE: Permission
denied ]", vim's E212). Without a terminal (an exec session) both refuse as they
do on Ubuntu.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from stemcell.sandbox.machine.programs import command
from stemcell.sandbox.machine.shell import IO, Shell, ShellExit, Terminal

ESC = "\x1b"
READ_WAIT = 0.2  # wall seconds between checks for the session going away


def keys(data: bytes) -> list[str]:
    """Split raw input into keys: printable text, control keys (^X as "C-x"), escape
    sequences as names (up, down, left, right, home, end, pgup, pgdn, delete, esc)."""
    out: list[str] = []
    text = data.decode("utf-8", "replace")
    i = 0
    seqs = {"[A": "up", "[B": "down", "[C": "right", "[D": "left", "OA": "up", "OB": "down",
            "OC": "right", "OD": "left", "[H": "home", "[F": "end", "OH": "home", "OF": "end",
            "[1~": "home", "[4~": "end", "[5~": "pgup", "[6~": "pgdn", "[3~": "delete",
            "[2~": "insert"}
    while i < len(text):
        c = text[i]
        if c == ESC:
            for seq, name in seqs.items():
                if text.startswith(seq, i + 1):
                    out.append(name)
                    i += 1 + len(seq)
                    break
            else:
                out.append("esc")
                i += 1
            continue
        if c in "\r\n":
            out.append("enter")
            if c == "\r" and text[i + 1:i + 2] == "\n":
                i += 1
        elif c in "\x7f\x08":
            out.append("backspace")
        elif c == "\t":
            out.append("\t")
        elif ord(c) < 32:
            out.append("C-" + chr(ord(c) + 96))
        else:
            out.append(c)
        i += 1
    return out


@dataclass
class Buffer:
    lines: list[str] = field(default_factory=lambda: [""])
    row: int = 0
    col: int = 0
    top: int = 0
    modified: bool = False

    def clamp(self) -> None:
        self.row = max(0, min(self.row, len(self.lines) - 1))
        self.col = max(0, min(self.col, len(self.lines[self.row])))

    def insert(self, text: str) -> None:
        line = self.lines[self.row]
        self.lines[self.row] = line[:self.col] + text + line[self.col:]
        self.col += len(text)
        self.modified = True

    def newline(self) -> None:
        line = self.lines[self.row]
        self.lines[self.row:self.row + 1] = [line[:self.col], line[self.col:]]
        self.row += 1
        self.col = 0
        self.modified = True

    def backspace(self) -> None:
        if self.col > 0:
            line = self.lines[self.row]
            self.lines[self.row] = line[:self.col - 1] + line[self.col:]
            self.col -= 1
            self.modified = True
        elif self.row > 0:
            prev = self.lines[self.row - 1]
            self.lines[self.row - 1:self.row + 1] = [prev + self.lines[self.row]]
            self.row -= 1
            self.col = len(prev)
            self.modified = True

    def delete(self) -> None:
        line = self.lines[self.row]
        if self.col < len(line):
            self.lines[self.row] = line[:self.col] + line[self.col + 1:]
            self.modified = True
        elif self.row + 1 < len(self.lines):
            self.lines[self.row:self.row + 2] = [line + self.lines[self.row + 1]]
            self.modified = True

    def move(self, key: str, page: int) -> None:
        if key == "up":
            self.row -= 1
        elif key == "down":
            self.row += 1
        elif key == "left":
            if self.col == 0 and self.row > 0:
                self.row -= 1
                self.col = len(self.lines[self.row])
                return
            self.col -= 1
        elif key == "right":
            if self.col >= len(self.lines[self.row]) and self.row + 1 < len(self.lines):
                self.row += 1
                self.col = 0
                return
            self.col += 1
        elif key == "home":
            self.col = 0
        elif key == "end":
            self.col = len(self.lines[self.row])
        elif key == "pgup":
            self.row -= page
        elif key == "pgdn":
            self.row += page
        self.clamp()

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def find(self, needle: str) -> bool:
        if not needle:
            return False
        n = len(self.lines)
        for k in range(n + 1):
            r = (self.row + k) % n
            start = self.col + 1 if k == 0 else 0
            idx = self.lines[r].find(needle, start)
            if idx >= 0:
                self.row, self.col = r, idx
                return True
        return False


class Editor:
    """What nano and vi share: the file, the terminal, reading keys, saving."""

    def __init__(self, sh: Shell, term: Terminal, path: str | None) -> None:
        self.sh = sh
        self.term = term
        self.path = sh.path(path) if path else None
        self.shown = path or ""
        self.buf = Buffer()
        self.new = True
        self.message = ""
        disk = sh.system.disk
        if self.path and disk.exists(self.path):
            self.new = False
            if disk.is_dir(self.path):
                self.message = f"\"{self.shown}\" is a directory"
            elif not disk.can_read(self.path, sh.user):
                self.message = f"Error reading {self.shown}: Permission denied"
            else:
                text = disk.read_text(self.path)
                self.buf.lines = text.split("\n")
                if text.endswith("\n"):
                    self.buf.lines.pop()
                self.buf.lines = self.buf.lines or [""]
        self.pending: list[str] = []

    def key(self) -> str:
        while not self.pending:
            self.sh.check_cancel()
            data = self.term.read(READ_WAIT)
            if data is None:
                raise ShellExit(129)  # the session is gone (SIGHUP)
            self.pending.extend(keys(data))
        return self.pending.pop(0)

    def save(self, path: str | None = None) -> str | None:
        """Write the buffer; None on success, else the error text."""
        target = self.sh.path(path) if path else self.path
        if target is None:
            return "No file name"
        disk = self.sh.system.disk
        if disk.is_dir(target):
            return "Is a directory"
        if not disk.is_dir(posixpath.dirname(disk.resolve(target))):
            return "No such file or directory"
        if not disk.can_write(target, self.sh.user):
            return "Permission denied"
        with self.sh.system.lock:
            new = not disk.exists(target)
            disk.write(target, self.buf.text(), owner=self.sh.user if new else None,
                       group=self.sh.user if new else None)
        self.path = target
        if path:
            self.shown = path
        self.buf.modified = False
        self.new = False
        return None

    def rows(self) -> int:
        return max(5, self.term.size()[1])

    def cols(self) -> int:
        return max(20, self.term.size()[0])

    def scroll(self, height: int) -> None:
        b = self.buf
        if b.row < b.top:
            b.top = b.row
        elif b.row >= b.top + height:
            b.top = b.row - height + 1


@dataclass
class _Prompt:
    label: str
    value: str = ""


class Nano(Editor):
    HELP = (("^G", "Help"), ("^O", "Write Out"), ("^W", "Where Is"), ("^K", "Cut"),
            ("^T", "Execute"), ("^C", "Location"), ("^X", "Exit"), ("^R", "Read File"),
            ("^\\", "Replace"), ("^U", "Paste"), ("^J", "Justify"), ("^/", "Go To Line"))

    def draw(self, prompt: _Prompt | None = None) -> None:
        cols, rows = self.cols(), self.rows()
        height = rows - 4
        self.scroll(height)
        title = "  GNU nano 7.2"
        name = self.shown or "New Buffer"
        right = "Modified  " if self.buf.modified else ""
        mid = max(0, (cols - len(name)) // 2 - len(title))
        bar = (title + " " * mid + name)
        bar = bar + " " * max(0, cols - len(bar) - len(right)) + right
        out = [f"{ESC}[H{ESC}[7m{bar[:cols]}{ESC}[0m"]
        for i in range(height):
            r = self.buf.top + i
            line = self.buf.lines[r] if r < len(self.buf.lines) else ""
            out.append(f"{ESC}[{i + 2};1H{ESC}[K{line[:cols]}")
        status = ""
        if prompt is not None:
            status = f"{ESC}[7m{(prompt.label + prompt.value).ljust(cols)[:cols]}{ESC}[0m"
        elif self.message:
            msg = f"[ {self.message} ]"
            pad = max(0, (cols - len(msg)) // 2)
            status = " " * pad + f"{ESC}[7m{msg}{ESC}[0m"
        out.append(f"{ESC}[{rows - 2};1H{ESC}[K{status}")
        if prompt is not None and prompt.label.startswith("Save modified"):
            help_rows = [[(" Y", "Yes")], [(" N", "No"), ("^C", "Cancel")]]
        else:
            help_rows = [list(self.HELP[:6]), list(self.HELP[6:])]
        for k, items in enumerate(help_rows):
            text = "".join(f"{ESC}[7m{key}{ESC}[0m {label:<12}" for key, label in items)
            out.append(f"{ESC}[{rows - 1 + k};1H{ESC}[K{text}")
        if prompt is not None:
            out.append(f"{ESC}[{rows - 2};{len(prompt.label) + len(prompt.value) + 1}H")
        else:
            out.append(f"{ESC}[{self.buf.row - self.buf.top + 2};{self.buf.col + 1}H")
        self.term.write("".join(out).encode())

    def ask(self, label: str, value: str = "") -> str | None:
        prompt = _Prompt(label, value)
        while True:
            self.draw(prompt)
            k = self.key()
            if k == "enter":
                return prompt.value
            if k in ("C-c", "esc"):
                self.message = "Cancelled"
                return None
            if k == "backspace":
                prompt.value = prompt.value[:-1]
            elif len(k) == 1:
                prompt.value += k

    def write_out(self) -> bool:
        name = self.ask("File Name to Write: ", self.shown)
        if name is None:
            return False
        error = self.save(name)
        if error:
            self.message = f"Error writing {name}: {error}"
            return False
        self.message = f"Wrote {len(self.buf.lines)} line{'s' if len(self.buf.lines) != 1 else ''}"
        return True

    def run(self) -> int:
        if not self.message:
            n = len(self.buf.lines) if not self.new else 0
            self.message = "New File" if self.new else \
                f"Read {n} line{'s' if n != 1 else ''}"
        cut: list[str] = []
        while True:
            self.draw()
            k = self.key()
            self.message = ""
            if k == "C-x":
                if not self.buf.modified:
                    return 0
                prompt = _Prompt("Save modified buffer?  ")
                while True:
                    self.draw(prompt)
                    answer = self.key()
                    if answer in ("y", "Y"):
                        if self.write_out():
                            return 0
                        break
                    if answer in ("n", "N"):
                        return 0
                    if answer in ("C-c", "esc"):
                        self.message = "Cancelled"
                        break
            elif k == "C-o":
                self.write_out()
            elif k == "C-s":
                error = self.save()
                self.message = f"Error writing {self.shown}: {error}" if error else \
                    f"Wrote {len(self.buf.lines)} lines"
            elif k == "C-k":
                b = self.buf
                cut = [b.lines[b.row]]
                if len(b.lines) > 1:
                    del b.lines[b.row]
                else:
                    b.lines = [""]
                b.modified = True
                b.clamp()
            elif k == "C-u":
                if cut:
                    b = self.buf
                    b.lines[b.row:b.row] = cut
                    b.row += len(cut)
                    b.modified = True
                    b.clamp()
            elif k == "C-w":
                needle = self.ask("Search: ")
                if needle is not None and not self.buf.find(needle):
                    self.message = f"\"{needle}\" not found"
            elif k == "C-c":
                b = self.buf
                pct = 100 * (b.row + 1) // len(b.lines)
                self.message = (f"line {b.row + 1}/{len(b.lines)} ({pct}%),"
                                f" col {b.col + 1}/{len(b.lines[b.row]) + 1}")
            elif k == "enter":
                self.buf.newline()
            elif k == "backspace":
                self.buf.backspace()
            elif k == "delete":
                self.buf.delete()
            elif k in ("up", "down", "left", "right", "home", "end", "pgup", "pgdn"):
                self.buf.move(k, self.rows() - 4)
            elif len(k) == 1:
                self.buf.insert(k)


class Vi(Editor):
    def draw(self, cmdline: str | None = None) -> None:
        cols, rows = self.cols(), self.rows()
        height = rows - 1
        self.scroll(height)
        out = [f"{ESC}[H"]
        for i in range(height):
            r = self.buf.top + i
            line = self.buf.lines[r] if r < len(self.buf.lines) else "~"
            out.append(f"{ESC}[{i + 1};1H{ESC}[K{line[:cols]}")
        last = cmdline if cmdline is not None else self.message
        out.append(f"{ESC}[{rows};1H{ESC}[K{last[:cols]}")
        if cmdline is not None:
            out.append(f"{ESC}[{rows};{len(cmdline) + 1}H")
        else:
            out.append(f"{ESC}[{self.buf.row - self.buf.top + 1};{self.buf.col + 1}H")
        self.term.write("".join(out).encode())

    def written(self) -> str:
        data = self.buf.text()
        return f"\"{self.shown}\" {'[New] ' if self.new else ''}{len(self.buf.lines)}L, " \
               f"{len(data.encode())}B written"

    def command(self, cmd: str) -> bool:
        """Run an ex command; True to quit."""
        cmd = cmd.strip()
        force = cmd.endswith("!")
        name = cmd.rstrip("!")
        arg = ""
        if " " in name:
            name, arg = name.split(None, 1)
        if name in ("w", "wq", "x", "write"):
            if name == "x" and not self.buf.modified and not arg:
                return True
            was_new = self.new
            error = self.save(arg or None)
            if error:
                self.message = ("E212: Can't open file for writing" if error ==
                                "Permission denied" else f"E212: {error}")
                return False
            self.new = was_new
            self.message = self.written()
            self.new = False
            return name in ("wq", "x")
        if name in ("q", "quit"):
            if self.buf.modified and not force:
                self.message = "E37: No write since last change (add ! to override)"
                return False
            return True
        if name.isdigit():
            self.buf.row = int(name) - 1
            self.buf.clamp()
            return False
        self.message = f"E492: Not an editor command: {cmd}"
        return False

    def run(self) -> int:
        if not self.message:
            if self.new:
                self.message = f"\"{self.shown}\" [New]" if self.shown else ""
            else:
                data = self.buf.text()
                self.message = f"\"{self.shown}\" {len(self.buf.lines)}L, {len(data.encode())}B"
        insert = False
        search = ""
        prev = ""
        while True:
            if insert:
                self.message = "-- INSERT --"
            self.draw()
            k = self.key()
            b = self.buf
            if insert:
                if k == "esc":
                    insert = False
                    self.message = ""
                    b.col = max(0, b.col - 1)
                elif k == "enter":
                    b.newline()
                elif k == "backspace":
                    b.backspace()
                elif k == "delete":
                    b.delete()
                elif k in ("up", "down", "left", "right", "home", "end", "pgup", "pgdn"):
                    b.move(k, self.rows() - 1)
                elif len(k) == 1:
                    b.insert(k)
                continue
            if k in (":", "/"):
                line = k
                while True:
                    self.draw(line)
                    c = self.key()
                    if c == "enter":
                        break
                    if c in ("esc", "C-c"):
                        line = ""
                        break
                    if c == "backspace":
                        line = line[:-1]
                        if not line:
                            break
                    elif len(c) == 1:
                        line += c
                self.message = ""
                if line.startswith(":"):
                    if self.command(line[1:]):
                        return 0
                elif line.startswith("/"):
                    search = line[1:]
                    if not b.find(search):
                        self.message = f"E486: Pattern not found: {search}"
                continue
            self.message = ""
            if k in ("i", "insert"):
                insert = True
            elif k == "a":
                insert = True
                b.col = min(len(b.lines[b.row]), b.col + 1)
            elif k == "A":
                insert = True
                b.col = len(b.lines[b.row])
            elif k == "I":
                insert = True
                b.col = 0
            elif k in ("o", "O"):
                at = b.row + 1 if k == "o" else b.row
                b.lines.insert(at, "")
                b.row, b.col = at, 0
                b.modified = True
                insert = True
            elif k in ("x", "delete"):
                if b.lines[b.row]:
                    b.delete()
                    b.clamp()
            elif k == "d" and prev == "d":
                del b.lines[b.row]
                b.lines = b.lines or [""]
                b.modified = True
                b.clamp()
                k = ""
            elif k == "g" and prev == "g":
                b.row, b.col = 0, 0
                k = ""
            elif k == "G":
                b.row = len(b.lines) - 1
                b.col = 0
            elif k == "Z" and prev == "Z":
                if b.modified:
                    error = self.save()
                    if error:
                        self.message = "E212: Can't open file for writing"
                        k = ""
                        prev = k
                        continue
                return 0
            elif k == "n":
                if search and not b.find(search):
                    self.message = f"E486: Pattern not found: {search}"
            elif k in ("h", "backspace"):
                b.move("left", 0) if b.col > 0 else None
            elif k == "l":
                if b.col < len(b.lines[b.row]) - 1:
                    b.col += 1
            elif k in ("j", "enter"):
                b.move("down", 0)
            elif k == "k":
                b.move("up", 0)
            elif k == "0":
                b.col = 0
            elif k == "$":
                b.col = max(0, len(b.lines[b.row]) - 1)
            elif k in ("up", "down", "left", "right", "home", "end", "pgup", "pgdn"):
                b.move(k, self.rows() - 1)
            prev = k


@command("nano", "rnano", "pico")
def nano(sh: Shell, argv: list[str], io: IO) -> int:
    return _edit(sh, argv, io, Nano)


@command("vi", "vim", "vim.tiny", "view")
def vi(sh: Shell, argv: list[str], io: IO) -> int:
    return _edit(sh, argv, io, Vi)


def _edit(sh: Shell, argv: list[str], io: IO, kind: type[Nano] | type[Vi]) -> int:
    files = [a for a in argv[1:] if not a.startswith(("-", "+"))]
    term = sh.terminal
    if term is None:
        if kind is Nano:
            io.eprint("Too many errors from stdin")
            return 1
        io.eprint("Vim: Warning: Output is not to a terminal\n"
                  "Vim: Warning: Input is not from a terminal")
        return 1
    editor = kind(sh, term, files[0] if files else None)
    term.raw(True)
    term.write(f"{ESC}[?1049h{ESC}[H{ESC}[2J".encode())
    try:
        return editor.run()
    finally:
        term.write(f"{ESC}[?1049l".encode())
        term.raw(False)
