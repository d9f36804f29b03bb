#!/usr/bin/env python3
"""Limits check: eks-token against endpoints that never answer or never stop answering.

  benches/limits.py               build as install.sh does, measure, print PASS/FAIL per row
  benches/limits.py --bin PATH    measure an eks-token already built
  benches/limits.py --runs N      runs per row (default 3; each row reports its worst)

Prints the wall time of every command that talks to AWS at `--timeout 2` against a silent
endpoint (goal: at most 2.2 s) and the peak RSS of `token` against an endless 200 and 503
body (goal: under 50 MiB). Cargo's progress goes to stderr, the report to stdout. Exit 0
even when a row fails (this prints numbers, it is not a test); 1 when a tool is missing or
a step fails, 2 on a usage error.
"""

import argparse
import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIME = "/usr/bin/time"
TIMEOUT = 2
WALL_GOAL = 2.2
RSS_GOAL_MIB = 50
ROLE = "arn:aws:iam::123456789012:role/bench"
# Every wait below is bounded: no run may take longer than this.
RUN_LIMIT = 60


def fail(message):
    sys.exit(f"benches/limits.py: {message}")


def gnu_time():
    """GNU time, installed with apt-get when missing."""

    def usable():
        try:
            out = subprocess.run([TIME, "--version"], capture_output=True, text=True, timeout=10)
        except OSError:
            return False
        return "GNU" in out.stdout + out.stderr

    if usable():
        return
    print("benches/limits.py: GNU time not found at /usr/bin/time; installing the Debian package", file=sys.stderr)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "time"]):
        try:
            subprocess.run(sudo + step, stdout=sys.stderr, timeout=600)
        except OSError:
            break
    if not usable():
        fail("GNU time is needed at /usr/bin/time for peak RSS and apt-get could not install it: "
             "run `sudo apt-get install time`")


def build():
    """Builds as install.sh does; scripts/build-release.sh prints where cargo put it."""
    out = subprocess.run([ROOT / "scripts/build-release.sh"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        fail("the release build failed (see above)")
    return Path(out.stdout.strip())


class Peer:
    """tests/peers/fault_server.py following `plan`, on 127.0.0.1 (standard library only)."""

    def __init__(self, plan):
        self.process = subprocess.Popen(
            [sys.executable, ROOT / "tests/peers/fault_server.py", "--plan", json.dumps(plan)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        try:
            self.url = f"http://127.0.0.1:{json.loads(line)['port']}"
        except (ValueError, KeyError):
            self.stop()
            fail(f"the fault server did not start: {line!r}")

    def requests(self):
        with urllib.request.urlopen(f"{self.url}/_stats", timeout=10) as answer:
            return json.load(answer)["requests"]

    def stop(self):
        self.process.kill()
        self.process.wait(timeout=RUN_LIMIT)


def measure(binary, args, env):
    """Runs eks-token under GNU time: (wall seconds, peak RSS in KiB, exit status, error line)."""
    with tempfile.NamedTemporaryFile("r") as rss:
        started = time.monotonic()
        try:
            out = subprocess.run([TIME, "-f", "%M", "-o", rss.name, binary, *args], env=env,
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=RUN_LIMIT)
        except subprocess.TimeoutExpired:
            fail(f"eks-token {' '.join(args)} still ran after {RUN_LIMIT} s")
        wall = time.monotonic() - started
        peak = int(rss.read().split()[-1])
    error = next((l for l in out.stderr.splitlines() if l.startswith("eks-token: error: ")), "")
    if out.returncode == 0 or not error:
        fail(f"eks-token {' '.join(args)} did not fail as it must against this endpoint:\n{out.stderr}")
    # doctor's report is on stdout; its first problem is the interesting line.
    problem = next((l for l in out.stdout.splitlines() if l.startswith("problem: ")), None)
    return wall, peak, out.returncode, problem or error


def worst(runs, binary, args, env, around=contextlib.nullcontext):
    """The slowest wall time and the largest peak RSS of `runs` runs, and the last message;
    each run inside `around()`."""
    results = []
    for _ in range(runs):
        with around():
            results.append(measure(binary, args, env))
    return max(r[0] for r in results), max(r[1] for r in results), results[-1][3]


def lock_held(binary, env, silent):
    """Another run of the same token holding the per-key cache lock: it takes the lock,
    then waits on the silent STS far past our deadline."""

    @contextlib.contextmanager
    def around():
        seen = silent.requests()
        holder = subprocess.Popen(
            [binary, "token", "--cluster-name", "bench", "--role-arn", ROLE, "--timeout", "30"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(500):
                if silent.requests() > seen:
                    break
                time.sleep(0.01)
            else:
                fail("the lock-holding run never called STS")
            yield
        finally:
            holder.kill()
            holder.wait(timeout=RUN_LIMIT)

    return around


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", type=Path, help="an eks-token binary to measure instead of building one")
    ap.add_argument("--runs", type=int, default=3, help="runs per row (default 3)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if platform.system() != "Linux":
        fail("Linux only (peak RSS comes from GNU time)")
    gnu_time()
    binary = args.bin.resolve() if args.bin else build()
    if not os.access(binary, os.X_OK):
        fail(f"{binary} is not an executable")

    scratch = Path(tempfile.mkdtemp(prefix="eks-token-limits."))
    peers = []
    try:
        home = scratch / "home"
        (home / ".aws").mkdir(parents=True)
        silent = Peer([{"hang": True}])
        endless = {status: Peer([{"endless": True, "status": status}]) for status in (200, 503)}
        peers = [silent, *endless.values()]
        # A private HOME and AWS's documented example keys: nothing real is read or sent.
        base = {
            "HOME": str(home), "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AWS_REGION": "eu-west-1",
        }
        quiet = dict(base, AWS_ENDPOINT_URL_STS=silent.url, AWS_ENDPOINT_URL_EKS=silent.url)
        timeout = ["--timeout", str(TIMEOUT)]
        token = ["token", "--cluster-name", "bench", "--role-arn", ROLE, *timeout]
        kubeconfig = scratch / "kubeconfig"
        nothing = contextlib.nullcontext
        walls = [
            ("token --role-arn (STS AssumeRole)", token, nothing),
            ("token, another run holding the cache lock", token, lock_held(binary, quiet, silent)),
            ("whoami (STS GetCallerIdentity)", ["whoami", *timeout], nothing),
            ("doctor (STS GetCallerIdentity)", ["doctor", "--region", "eu-west-1", *timeout], nothing),
            ("kubeconfig (EKS DescribeCluster)",
             ["kubeconfig", "--cluster-name", "bench", "--kubeconfig", str(kubeconfig), *timeout], nothing),
        ]
        wall_rows = []
        for name, command, around in walls:
            wall, peak, message = worst(args.runs, binary, command, quiet, around)
            wall_rows.append((name, wall, peak, message))
        rss_rows = []
        for status, peer in endless.items():
            env = dict(base, AWS_ENDPOINT_URL_STS=peer.url)
            wall, peak, message = worst(args.runs, binary, token, env)
            rss_rows.append((f"token --role-arn, endless HTTP {status} body", wall, peak, message))
    finally:
        for peer in peers:
            peer.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "(not a git checkout)"
    if subprocess.run(["git", "--no-optional-locks", "diff", "--quiet", "HEAD"], cwd=ROOT).returncode:
        commit += " + uncommitted changes"
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()[-1]
    print(f"# eks-token limits check, {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
    print()
    print(f"machine:   {cpu}, {os.cpu_count()} cores, {' '.join(platform.uname()[i] for i in (0, 2, 4))}, "
          f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    if args.bin:
        print(f"eks-token: {version}, given with --bin (the checkout, whose fault server ran, is at {commit})")
    else:
        print(f"eks-token: {version} at {commit}")
    shown = binary.relative_to(ROOT) if binary.is_relative_to(ROOT) else binary
    print(f"binary:    {shown} ({binary.stat().st_size // 1024} KiB)")
    print(f"method:    worst of {args.runs} runs per row; wall time around GNU time, peak RSS = its %M (ru_maxrss)")
    print(f"           env credentials (AWS example keys), private scratch HOME, --timeout {TIMEOUT}, "
          "endpoints from tests/peers/fault_server.py on 127.0.0.1")
    print()
    print(f"Silent endpoint (accepts, reads the request, never answers): goal ≤ {WALL_GOAL} s")
    print()
    width = max(len(r[0]) for r in wall_rows + rss_rows)
    for name, wall, peak, message in wall_rows:
        verdict = "PASS" if wall <= WALL_GOAL else "FAIL"
        print(f"{verdict}  {name.ljust(width)}  {wall:5.2f} s  {peak / 1024:5.1f} MiB")
        print(f"      {message}")
    print()
    print(f"Endless body (headers, then bytes until the client hangs up): goal peak RSS < {RSS_GOAL_MIB} MiB")
    print()
    for name, wall, peak, message in rss_rows:
        verdict = "PASS" if peak < RSS_GOAL_MIB * 1024 else "FAIL"
        print(f"{verdict}  {name.ljust(width)}  {peak / 1024:6.1f} MiB  {wall:5.2f} s")
        print(f"      {message}")
    print()
    print("not timed: kubeconfig migrate, cache list, cache clear (no network)")


if __name__ == "__main__":
    main()
