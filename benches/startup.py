"""The Python half of benches/startup.sh: peak RSS, ELF link mode, the report.

  startup.py rss OUT.json RUNS NAME=COMMAND...   max ru_maxrss (KiB) of RUNS runs of each
  startup.py elf BINARY                          ELF type and whether it has a PT_INTERP
  startup.py report HYPERFINE.json RSS.json [--targets]
"""

import ctypes
import json
import os
import shlex
import struct
import sys
import time

FLOOR = "/bin/true"
HIT = "eks-token hit"
MISS = "eks-token miss (--no-cache)"
OIDC_HIT = "eks-token oidc hit"
GKE = "gke-gcloud-auth-plugin hit"
PR_SET_CHILD_SUBREAPER = 36


def peak_rss_kib(argv):
    # Linux keeps a process's peak RSS across exec, so a command forked from this Python
    # would start at Python's size. Fork it from /bin/sh instead; it waits on a gate until
    # that shell has exited, so it is re-parented to us (a subreaper) and we can reap it.
    gate_r, gate_w = os.pipe()
    pid_r, pid_w = os.pipe()
    shell = os.posix_spawn(
        "/bin/sh",
        ["sh", "-c", '( read -r _ <&3; exec "$@" 3<&- ) >/dev/null & echo $!', "sh", *argv],
        dict(os.environ),
        file_actions=[(os.POSIX_SPAWN_DUP2, gate_r, 3), (os.POSIX_SPAWN_DUP2, pid_w, 1)],
    )
    os.close(gate_r)
    os.close(pid_w)
    with os.fdopen(pid_r) as pipe:
        pid = int(pipe.read())
    os.waitpid(shell, 0)
    os.close(gate_w)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                sys.exit(f"startup.py: {argv[0]} exited with {code} while measuring RSS")
            return usage.ru_maxrss
        time.sleep(0.001)
    sys.exit(f"startup.py: {argv[0]} did not exit within 60 s")


def rss(out, runs, specs):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("startup.py: prctl(PR_SET_CHILD_SUBREAPER) failed (Linux 3.4+ needed)")
    peaks = {}
    for spec in specs:
        name, command = spec.split("=", 1)
        argv = shlex.split(command)
        peaks[name] = max(peak_rss_kib(argv) for _ in range(int(runs)))
    with open(out, "w") as f:
        json.dump(peaks, f)


def elf(path):
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return "not a 64-bit little-endian ELF file"
        e_type, = struct.unpack_from("<H", head, 16)
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    types = [struct.unpack_from("<I", table, i * phentsize)[0] for i in range(phnum)]
    kind = {2: "ET_EXEC (non-PIE)", 3: "ET_DYN (PIE)"}.get(e_type, f"e_type {e_type}")
    interp = "has PT_INTERP (dynamic loader)" if 3 in types else "no PT_INTERP (static)"
    return f"{kind}, {interp}"


def ms(seconds):
    return seconds * 1000


def table_line(cells, widths):
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"


def report(hyperfine_json, rss_json, targets):
    with open(hyperfine_json) as f:
        results = {r["command"]: r for r in json.load(f)["results"]}
    with open(rss_json) as f:
        peaks = json.load(f)
    floor = results[FLOOR]["median"]
    head = ["command", "runs", "mean ± σ (ms)", "median (ms)", "× /bin/true", "peak RSS (MiB)"]
    rows = [
        [
            name,
            str(len(r["times"])),
            f"{ms(r['mean']):.2f} ± {ms(r['stddev']):.2f}",
            f"{ms(r['median']):.2f}",
            f"{r['median'] / floor:.2f}",
            f"{peaks[name] / 1024:.1f}",
        ]
        for name, r in results.items()
    ]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]
    print(table_line(head, widths))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(table_line(row, widths))
    if not targets:
        return
    hit, miss, oidc, gke = (results[n]["median"] for n in (HIT, MISS, OIDC_HIT, GKE))
    checks = [
        ("cache hit ≤ 1.5× /bin/true (medians)", f"{hit / floor:.2f}×", hit <= 1.5 * floor),
        (
            "cache hit ≥ 5× faster than gke-gcloud-auth-plugin's hit",
            f"{gke / hit:.2f}× (/bin/true itself: {gke / floor:.2f}×)",
            gke >= 5 * hit,
        ),
        ("miss with env credentials ≤ 5 ms (median)", f"{ms(miss):.2f} ms", ms(miss) <= 5),
        ("oidc cache hit ≤ 1.5× /bin/true (medians)", f"{oidc / floor:.2f}×", oidc <= 1.5 * floor),
        ("peak RSS on a hit ≤ 5 MiB", f"{peaks[HIT] / 1024:.2f} MiB", peaks[HIT] <= 5 * 1024),
    ]
    print()
    width = max(len(c[0]) for c in checks)
    for label, value, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label.ljust(width)}  {value}")
    if hit > floor:
        excess = (gke - floor) / (hit - floor)
        print(f"info  above the /bin/true floor, gke-gcloud-auth-plugin's hit costs {excess:.0f}× eks-token's")


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "rss":
        rss(args[0], args[1], args[2:])
    elif command == "elf":
        print(elf(args[0]))
    elif command == "report":
        report(args[0], args[1], "--targets" in args[2:])
    else:
        sys.exit(f"startup.py: unknown command {command}")
