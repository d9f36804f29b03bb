"""Runs a command as a person at a terminal starts it: on a new pseudo-terminal.

    python pty_run.py [--timeout SECONDS] [--stdout-pipe] [--answer REGEX TEXT]... -- COMMAND [ARG...]

The command gets a new session whose controlling terminal is the pseudo-terminal, with
stdin, stdout and stderr on it (`--stdout-pipe`: stdout on a pipe instead, as kubectl gives
an exec plugin, so what the command printed there can be read apart from the terminal).
Without `--answer` nothing is typed: stdin stays open and silent. Each `--answer REGEX
TEXT` types TEXT and Enter once, as a person would, when REGEX (a Python regular
expression) matches what the terminal showed since the answer before it; answers are
typed in the order given, each once (TEXT may hold control characters: U+0003 is Ctrl-C,
which the terminal turns into SIGINT). The environment passes through unchanged.

When the command has exited and nothing holds the terminal any more (or 1 s after it
exited, if a process it started still does), or at the timeout (default 30 s), every
process left in its session's process group is killed with SIGKILL, and one JSON object
is printed on stdout:

    {"code": N or null, "signal": N or null, "timed_out": bool, "elapsed": seconds,
     "terminal": "what the terminal showed", "stdout": "what went to the pipe" or null,
     "answered": N, "echo": bool}

`code` is the exit status, `signal` the signal that ended it (SIGKILL at the timeout).
`answered` is how many answers were typed; `echo` whether the terminal echoed what is typed
when the command ended (a program that turns echo off must turn it back on).
The terminal's text is as the line discipline wrote it (newlines as CR LF), decoded as
UTF-8 with replacement. Exit 0 whenever the command could be run; 2 on a usage error.
Standard library only.
"""

import argparse
import errno
import fcntl
import json
import os
import re
import select
import signal
import struct
import sys
import termios
import time

# After the command exits, how long a process it started may keep the terminal open.
LINGER = 1.0


def spawn(command, stdout_pipe):
    """Forks `command` onto a new pseudo-terminal; returns (pid, master fd, pipe fd or None)."""
    master, slave = os.openpty()
    # A person's terminal has a size; some programs ask for it.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    read_end, write_end = os.pipe() if stdout_pipe else (None, None)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
            os.dup2(slave, 0)
            os.dup2(write_end if stdout_pipe else slave, 1)
            os.dup2(slave, 2)
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            os.execvp(command[0], command)
        except OSError as e:
            os.write(2, f"pty_run: cannot run {command[0]}: {e}\n".encode())
        os._exit(127)
    os.close(slave)
    if stdout_pipe:
        os.close(write_end)
    return pid, master, read_end


def run(command, timeout, stdout_pipe, answers):
    start = time.monotonic()
    deadline = start + timeout
    pid, master, pipe = spawn(command, stdout_pipe)
    open_fds = {master: bytearray()}
    if pipe is not None:
        open_fds[pipe] = bytearray()
    captured = dict(open_fds)
    status = None
    exited_at = None
    timed_out = False
    answered = 0
    # Where in the terminal's text the next answer's prompt is looked for.
    seen = 0
    while True:
        if answered < len(answers) and master in open_fds:
            pattern, text = answers[answered]
            shown = captured[master][seen:].decode("utf-8", "replace")
            if re.search(pattern, shown):
                os.write(master, text.encode() + b"\n")
                answered += 1
                seen = len(captured[master])
        now = time.monotonic()
        if status is None:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status, exited_at = raw, now
        if status is not None and (not open_fds or now - exited_at >= LINGER):
            break
        if now >= deadline:
            timed_out = status is None
            break
        ready, _, _ = select.select(list(open_fds), [], [], min(0.05, deadline - now))
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError as e:
                # Linux: reading the master once no process holds the terminal is EIO.
                if e.errno != errno.EIO:
                    raise
                chunk = b""
            if chunk:
                captured[fd] += chunk
            else:
                del open_fds[fd]
    # The master reads the terminal's settings as the command left them.
    echo = bool(termios.tcgetattr(master)[3] & termios.ECHO)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if status is None:
        _, status = os.waitpid(pid, 0)
    elapsed = (exited_at or time.monotonic()) - start
    for fd in captured:
        os.close(fd)
    decode = lambda data: data.decode("utf-8", "replace")
    return {
        "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "timed_out": timed_out,
        "elapsed": round(elapsed, 3),
        "terminal": decode(captured[master]),
        "stdout": decode(captured[pipe]) if pipe is not None else None,
        "answered": answered,
        "echo": echo,
    }



def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--stdout-pipe", action="store_true")
    ap.add_argument("--answer", nargs=2, action="append", default=[], metavar=("REGEX", "TEXT"))
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()
    json.dump(run(args.command, args.timeout, args.stdout_pipe, args.answer), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
