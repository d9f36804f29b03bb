"""The Python half of benches/workday.sh: a working day of kubectl calls on a simulated clock.

  workday.py sts DELAY_MS        the STS peer (started under libfaketime by `day`): moto's
                                 app behind a DELAY_MS wait per AWS call, counting by Action;
                                 `GET /_stats` -> {"actions": {Action: N}, "assume_role":
                                 [{"at", "expiration" (epoch s), "access_key_id"}]}
  workday.py day --bin EKS_TOKEN --aws AWS --libfaketime LIB [--hours H] [--cli-every S]
                                 replays the day and prints the report

Every process the day starts (eks-token, `aws`, /bin/true, the STS peer) has libfaketime
preloaded and reads the simulated time from one file this driver rewrites before each run
(FAKETIME_TIMESTAMP_FILE, FAKETIME_NO_CACHE=1: a frozen clock at the run's second);
monotonic clocks stay real (FAKETIME_DONT_FAKE_MONOTONIC=1), so timeouts behave. The
driver itself runs on the real clock and times each run from posix_spawn to its exit.
"""

import argparse
import base64
import gc
import io
import json
import math
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests/peers"))

# The day (issue 13): kubectl runs the plugin every 10 s for 8 hours; the role's credentials
# last an hour; STS answers 100 ms late.
INTERVAL = 10
HOURS = 8
DURATION = 3600
STS_DELAY_MS = 100
# Simulated start: a fixed morning, so every replay signs the same times.
START = datetime(2026, 12, 1, 8, 0, 0, tzinfo=timezone.utc)
# botocore refreshes credentials that have 15 minutes or less left (`_advisory_refresh_timeout`
# in botocore/credentials.py; eks-token's ADVISORY_REFRESH): a credential lifetime serves
# 45 minutes of tokens, and the bound on AssumeRole calls follows from that.
ADVISORY_REFRESH = 15 * 60
P99_GOAL = 2.0
CLUSTER, REGION = "bench", "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/bench"
# AWS's documented example keys: the base profile's static keys; only moto sees them.
BASE_KEYS = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
EXEC_INFO = json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                        "spec": {"interactive": False}})
# Every wait is bounded: a run, the peer's start, an HTTP call.
RUN_LIMIT = 60
PEER_START_LIMIT = 30


def fail(message):
    print(f"benches/workday.py: {message}", file=sys.stderr)
    sys.exit(1)


# --- the STS peer ---------------------------------------------------------------------------

def sts(delay_ms):
    """moto's WSGI app behind a wait of `delay_ms` per AWS call, counting calls by Action."""
    import logging

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from serving import serve_until_stdin_closes

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()
    stats = {"actions": {}, "assume_role": []}

    def answer(start_response, body):
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_stats":
            with lock:
                return answer(start_response, stats)
        # STS is the query protocol: Action in the form body (or the query string).
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        form = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")) | urllib.parse.parse_qs(body.decode("latin-1"))
        action = form.get("Action", ["(no Action)"])[0]
        # Not time.sleep: under libfaketime 0.9.10 with real monotonic clocks, Python's
        # clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) fails with EINVAL; select waits.
        select.select([], [], [], delay_ms / 1000)
        at = time.time()
        parts = moto(environ, start_response)
        try:
            data = b"".join(parts)
        finally:
            getattr(parts, "close", lambda: None)()
        with lock:
            stats["actions"][action] = stats["actions"].get(action, 0) + 1
            if action == "AssumeRole":
                text = data.decode()
                key = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", text)
                expiration = re.search(r"<Expiration>([^<]+)</Expiration>", text)
                stats["assume_role"].append({
                    "at": at,
                    "access_key_id": key and key.group(1),
                    "expiration": expiration and parse_time(expiration.group(1)).timestamp(),
                })
        return [data]

    serve_until_stdin_closes(make_server("127.0.0.1", 0, app, threaded=True))


def parse_time(text):
    """An RFC 3339 / ISO 8601 UTC time as AWS and Kubernetes write it (`Z`, optional fraction)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Peer:
    """The STS peer on 127.0.0.1, under the simulated clock; lives while its stdin is open."""

    def __init__(self, env):
        self.url = None
        self.process = subprocess.Popen(
            [sys.executable, __file__, "sts", str(STS_DELAY_MS)], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def wait_ready(self):
        ready, _, _ = select.select([self.process.stdout], [], [], PEER_START_LIMIT)
        line = self.process.stdout.readline() if ready else ""
        try:
            self.url = f"http://127.0.0.1:{json.loads(line)['port']}"
        except (ValueError, KeyError):
            fail(f"the STS peer (moto) did not start within {PEER_START_LIMIT} s: {line!r}")

    def call(self, path):
        with urllib.request.urlopen(self.url + path, timeout=RUN_LIMIT) as answer:
            return answer.read()

    def stats(self):
        return json.loads(self.call("/_stats"))

    def stop(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=RUN_LIMIT)


# --- one run ---------------------------------------------------------------------------------

class Runner:
    """Runs a command as kubectl does (stdin /dev/null, stdout read to the end) and times it
    from posix_spawn to its exit; stderr goes to a file, shown when a run fails."""

    def __init__(self, scratch):
        self.stderr = os.open(scratch / "stderr", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        self.stderr_path = scratch / "stderr"

    def run(self, argv, env):
        os.ftruncate(self.stderr, 0)
        out_r, out_w = os.pipe()
        actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                   (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, self.stderr, 2)]
        started = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        os.close(out_w)
        pidfd = os.pidfd_open(pid)
        chunks, waiting, status, elapsed = [], {out_r, pidfd}, None, None
        try:
            while waiting:
                left = started + RUN_LIMIT - time.perf_counter()
                ready, _, _ = select.select(list(waiting), [], [], max(left, 0))
                if not ready:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    fail(f"{' '.join(argv)} still ran after {RUN_LIMIT} s")
                if pidfd in ready:
                    _, status = os.waitpid(pid, 0)
                    elapsed = time.perf_counter() - started
                    waiting.discard(pidfd)
                if out_r in ready:
                    data = os.read(out_r, 65536)
                    chunks.append(data)
                    if not data:
                        waiting.discard(out_r)
        finally:
            os.close(out_r)
            os.close(pidfd)
        return elapsed, os.waitstatus_to_exitcode(status), b"".join(chunks)

    def errors(self):
        return self.stderr_path.read_text(errors="replace")


def token_credentials(token):
    """(access key id, X-Amz-Date as epoch s) of the presigned GetCallerIdentity URL in an
    EKS token (`k8s-aws-v1.` + unpadded URL-safe base64)."""
    encoded = token.removeprefix("k8s-aws-v1.")
    url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    return query["X-Amz-Credential"][0].split("/")[0], signed.timestamp()


def exec_credential(stdout, now):
    """The token of an ExecCredential as kubectl 1.x reads it (client.authentication.k8s.io/v1),
    or why the output is not one; its expiry must be ahead of the simulated `now` and no more
    than 15 minutes away (an EKS token's life), which proves the plugin read the simulated clock."""
    try:
        credential = json.loads(stdout)
        status = credential["status"]
        token, expiry = status["token"], parse_time(status["expirationTimestamp"]).timestamp()
    except (ValueError, KeyError, TypeError) as e:
        return None, f"not an ExecCredential ({e!r}): {stdout[:200]!r}"
    if credential.get("kind") != "ExecCredential" or credential.get("apiVersion") != "client.authentication.k8s.io/v1":
        return None, f"kind/apiVersion {credential.get('kind')}/{credential.get('apiVersion')}"
    if not token.startswith("k8s-aws-v1."):
        return None, "the token is not an EKS token"
    if not now < expiry <= now + 15 * 60:
        return None, f"expirationTimestamp {status['expirationTimestamp']} is not within 15 minutes after the simulated time"
    return token, None


# --- the day ---------------------------------------------------------------------------------

class Clock:
    """The simulated clock: one file every process reads through libfaketime."""

    def __init__(self, path):
        self.path = path
        self.set(START.timestamp())

    def set(self, epoch):
        text = datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        temp = self.path.with_suffix(".tmp")
        temp.write_text(text + "\n")
        os.replace(temp, self.path)


def write_home(home):
    """A scratch HOME whose `dev` profile assumes ROLE with the `base` profile's static keys."""
    (home / ".aws").mkdir(parents=True, mode=0o700)
    (home / ".aws/config").write_text(
        f"[profile base]\naws_access_key_id = {BASE_KEYS[0]}\naws_secret_access_key = {BASE_KEYS[1]}\n"
        f"region = {REGION}\n\n"
        f"[profile dev]\nrole_arn = {ROLE}\nsource_profile = base\nduration_seconds = {DURATION}\n"
        f"region = {REGION}\n")


# What a run did, told from its token: the one before again, a new one signed with
# credentials seen before, or a new one with credentials new in this run (an AssumeRole).
HIT, MINT, ASSUME = "cache hits", "new tokens from reused credentials", "new tokens with AssumeRole"


class Variant:
    """One way of answering kubectl: its command, its own HOME and (when it calls AWS) its own
    STS peer; per run its time and what it did, and the (access key, signing time) of each token."""

    def __init__(self, name, argv, every, env, peer):
        self.name, self.argv, self.every, self.env, self.peer = name, argv, every, env, peer
        self.times, self.kinds, self.signed, self.token = [], [], [], None
        self.actions, self.assumed, self.bad_tokens = {}, [], 0

    def run(self, runner, now):
        elapsed, code, stdout = runner.run(self.argv, self.env)
        at = datetime.fromtimestamp(now, timezone.utc).strftime("%H:%M:%S")
        if code != 0:
            fail(f"{self.name} at simulated {at} exited with {code}:\n{runner.errors()}")
        if self.peer:
            token, problem = exec_credential(stdout, now)
            if problem:
                fail(f"{self.name} at simulated {at}: {problem}\n{runner.errors()}")
            key, signed = token_credentials(token)
            seen = any(key == k for k, _ in self.signed)
            self.kinds.append(HIT if token == self.token else MINT if seen else ASSUME)
            self.signed.append((key, signed))
            self.token = token
        self.times.append(elapsed)

    def tally(self, before, day):
        """The calls its peer answered since `before`; checks the peer ran on the simulated
        clock and gave 1-hour credentials, and that every token was signed with credentials
        issued in this replay, unexpired at its X-Amz-Date (not the base keys, not old ones)."""
        after = self.peer.stats()
        self.actions = {a: n - before["actions"].get(a, 0) for a, n in after["actions"].items()
                        if n > before["actions"].get(a, 0)}
        self.assumed = after["assume_role"][len(before["assume_role"]):]
        for assumed in self.assumed:
            if not START.timestamp() <= assumed["at"] < START.timestamp() + day:
                fail(f"{self.name}: the STS peer answered at {assumed['at']}, outside the simulated day "
                     "(libfaketime not in effect?)")
            if assumed["expiration"] is None or round(assumed["expiration"] - assumed["at"]) != DURATION:
                fail(f"{self.name}: an AssumeRole answer did not last {DURATION} s: {assumed}")
        issued = {a["access_key_id"]: a["expiration"] for a in self.assumed}
        self.bad_tokens = sum(1 for key, at in self.signed if key not in issued or at >= issued[key])


def replay(variants, runner, clock, day_runs):
    """The day: at each simulated step, the variants due then, one after the other in an order
    that rotates, so load from elsewhere on the machine falls on all of them alike."""
    for v in variants:
        # Untimed: the program into the page cache, as on a machine that runs it all day.
        runner.run([v.argv[0], "--version"] if v.peer else v.argv, v.env)
    before = {v.name: v.peer.stats() for v in variants if v.peer}
    started = time.monotonic()
    gc.disable()
    try:
        for i in range(day_runs):
            now = START.timestamp() + i * INTERVAL
            if i and i * INTERVAL % 3600 == 0:
                print(f"workday: simulated {hhmm(now)} after {time.monotonic() - started:.0f} s",
                      file=sys.stderr, flush=True)
            clock.set(now)
            due = [v for v in variants if i * INTERVAL % v.every == 0]
            k = i % len(due)
            for v in due[k:] + due[:k]:
                v.run(runner, now)
    finally:
        gc.enable()
    for v in variants:
        if v.peer:
            v.tally(before[v.name], day_runs * INTERVAL)
    return time.monotonic() - started


def percentile(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


def hhmm(epoch, seconds=False):
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%H:%M:%S" if seconds else "%H:%M")


def sts_round_trip(url):
    """The shortest of two GetCallerIdentity round trips through botocore: the wait must be there."""
    import boto3

    client = boto3.client("sts", endpoint_url=url, region_name=REGION,
                          aws_access_key_id=BASE_KEYS[0], aws_secret_access_key=BASE_KEYS[1])
    best = math.inf
    for _ in range(2):
        started = time.perf_counter()
        client.get_caller_identity()
        best = min(best, time.perf_counter() - started)
    if best < STS_DELAY_MS / 1000:
        fail(f"GetCallerIdentity from the STS peer took {best * 1000:.0f} ms, under its {STS_DELAY_MS} ms wait")
    return best


def report(variants, args, wall, checks):
    from importlib.metadata import version

    from startup import elf, table_line

    binary, day_runs = args.bin, args.hours * 3600 // INTERVAL
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip() or "(not a git checkout)"
    if subprocess.run(["git", "--no-optional-locks", "diff", "--quiet", "HEAD"], cwd=ROOT).returncode:
        commit += " + uncommitted changes"
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown CPU")
    eks_version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()[1]
    aws = subprocess.run([args.aws, "--version"], capture_output=True, text=True)
    day = day_runs * INTERVAL
    bound = math.ceil(day / (DURATION - ADVISORY_REFRESH))
    shown = binary.relative_to(ROOT) if binary.is_relative_to(ROOT) else binary
    print(f"# eks-token working-day benchmark, {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}")
    print()
    print(f"machine:   {cpu}, {os.cpu_count()} cores, {' '.join(platform.uname()[i] for i in (0, 2, 4))}, "
          f"load average {' '.join(open('/proc/loadavg').read().split()[:3])}")
    print(f"eks-token: {eks_version} at {commit}" + (" (binary given with --bin)" if args.given else ""))
    print(f"binary:    {shown} ({binary.stat().st_size // 1024} KiB), "
          + ("given with --bin" if args.given else "cargo build --release --locked (no RUSTFLAGS)"))
    print(f"           {elf(binary)}: libfaketime needs the dynamic loader, so this is")
    print("           not install.sh's static non-PIE build (benches/startup.sh --link-modes compares them)")
    faketime = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libfaketime"], capture_output=True,
                              text=True).stdout if shutil.which("dpkg-query") else ""
    print(f"peers:     {(aws.stdout + aws.stderr).split()[0]} (.venv), moto {version('moto')}, "
          f"libfaketime {faketime or '(version unknown)'}")
    print(f"day:       {hhmm(START.timestamp())}–{hhmm(START.timestamp() + day)} simulated UTC, kubectl runs the plugin "
          f"every {INTERVAL} s ({day_runs} runs)")
    print(f"profile:   AWS_PROFILE=dev: role_arn {ROLE}, source_profile base (static keys),")
    print(f"           duration_seconds = {DURATION}; each variant has its own scratch HOME and its own STS")
    print(f"STS:       moto on 127.0.0.1 behind a {STS_DELAY_MS} ms wait per call, calls counted there by Action")
    print(f"           (GetCallerIdentity through botocore: {checks['sts'] * 1000:.0f} ms on the slowest of the three)")
    print("runs:      env -i, AWS_ENDPOINT_URL to the variant's STS, KUBERNETES_EXEC_INFO v1 (interactive false),")
    print("           stdin /dev/null; stdout must be an ExecCredential expiring within 15 min of the simulated time")
    print("clock:     libfaketime preloaded in every process (runs, /bin/true, STS): one timestamp file, rewritten")
    print(f"           before each step (date(1) under it read {checks['date']})")
    print("timing:    wall time from posix_spawn to exit, libfaketime's start-up included (for /bin/true too);")
    print(f"           at each step the variants run one after the other, in rotating order; the replay took {wall:.0f} s")
    print()
    floor_p99 = percentile(variants[0].times, 99)
    head = ["variant", "runs", "AssumeRole", "AWS calls", "median (ms)", "p99 (ms)", "max (ms)", "p99 × /bin/true"]
    lines = []
    for v in variants:
        t = v.times
        lines.append([v.name, str(len(t)), str(v.actions.get("AssumeRole", 0)) if v.peer else "–",
                      str(sum(v.actions.values())) if v.peer else "–", f"{statistics.median(t) * 1000:.2f}",
                      f"{percentile(t, 99) * 1000:.2f}", f"{max(t) * 1000:.2f}", f"{percentile(t, 99) / floor_p99:.2f}"])
    widths = [max(len(line[i]) for line in [head, *lines]) for i in range(len(head))]
    print(table_line(head, widths))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        print(table_line(line, widths))
    print()
    for v in variants[1:]:
        other = {a: n for a, n in v.actions.items() if a != "AssumeRole"}
        at = [a["at"] for a in v.assumed]
        gaps = sorted({round(b - a) for a, b in zip(at, at[1:])})
        if len(at) <= 12:
            when = " ".join(hhmm(a, True) for a in at) or "never"
        else:
            low, high = (f"{g // 60}:{g % 60:02}" for g in (gaps[0], gaps[-1]))
            when = f"{hhmm(at[0], True)} … {hhmm(at[-1], True)}, every {low if low == high else f'{low}–{high}'} min"
        print(f"{v.name}: AssumeRole at {when}" + (f"; other calls {json.dumps(other)}" if other else ""))
        kinds = [(kind, [t for t, k in zip(v.times, v.kinds) if k == kind]) for kind in (HIT, MINT, ASSUME)]
        print("    runs (median time): " + ", ".join(f"{len(t)} {kind} {statistics.median(t) * 1000:.2f} ms"
                                                    for kind, t in kinds if t))
        if v.every != INTERVAL:
            print(f"    sampled (--cli-every {v.every}): one run every {v.every} simulated s, {len(v.times)} of {day_runs} "
                  "(all would take too long); calls and times are those of these runs")
    print()
    print(f"Goals: at most one AssumeRole per credential lifetime: ⌈{day / 3600:g} h ÷ ({DURATION // 60} min − "
          f"{ADVISORY_REFRESH // 60} min refreshed early)⌉ = {bound};")
    print(f"       p99 ≤ {P99_GOAL:g}× /bin/true's p99 ({floor_p99 * 1000:.2f} ms)")
    print()
    goals = []
    for v in variants[1:]:
        assumed, p99 = v.actions.get("AssumeRole", 0), percentile(v.times, 99)
        goals += [(f"{v.name}: AssumeRole ≤ {bound}", str(assumed), assumed <= bound),
                  (f"{v.name}: p99 ≤ {P99_GOAL:g}× /bin/true", f"{p99 / floor_p99:.2f}×", p99 <= P99_GOAL * floor_p99)]
    width = max(len(g[0]) for g in goals)
    for label, value, ok in goals:
        print(f"{'PASS' if ok else 'FAIL'}  {label.ljust(width)}  {value}")
    print()
    bad = {v.name: v.bad_tokens for v in variants[1:] if v.bad_tokens}
    if bad:
        print(f"tokens: NOT verified: signed with credentials not issued in the replay or expired: {bad}")
    else:
        print("tokens: verified (each signed with role credentials its variant's AssumeRole issued, unexpired at its "
              "X-Amz-Date)")


def day(args):
    day_runs = args.hours * 3600 // INTERVAL
    scratch = Path(tempfile.mkdtemp(prefix="eks-token-workday."))
    peers = []
    try:
        empty = scratch / "empty-path"
        empty.mkdir()
        clock = Clock(scratch / "faketime")
        # Every process reads the clock file on each time call; monotonic clocks stay real.
        faked = {"LD_PRELOAD": args.libfaketime, "FAKETIME_TIMESTAMP_FILE": str(clock.path),
                 "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1", "TZ": "UTC", "PATH": str(empty)}
        peers = [Peer(dict(faked, HOME=str(scratch))) for _ in range(3)]
        for peer in peers:
            peer.wait_ready()
        checks = {"sts": max(sts_round_trip(peer.url) for peer in peers)}
        date = subprocess.run(["/bin/date", "-u", "+%s"], env=faked, capture_output=True, text=True, timeout=RUN_LIMIT)
        if date.stdout.strip() != str(int(START.timestamp())):
            fail(f"libfaketime did not set the clock: date printed {date.stdout.strip()!r}, "
                 f"expected {int(START.timestamp())} ({args.libfaketime})")
        checks["date"] = f"{START:%Y-%m-%d %H:%M:%S} UTC"

        def env(name, peer=None):
            home = scratch / name / "home"
            write_home(home)
            return dict(faked, HOME=str(home), AWS_PROFILE="dev", AWS_EC2_METADATA_DISABLED="true",
                        KUBERNETES_EXEC_INFO=EXEC_INFO, **({"AWS_ENDPOINT_URL": peer.url} if peer else {}))

        eks = [str(args.bin), "token", "--cluster-name", CLUSTER, "--region", REGION]
        variants = [
            Variant("/bin/true", ["/bin/true"], INTERVAL, env("true"), None),
            Variant("(a) eks-token", eks, INTERVAL, env("a", peers[0]), peers[0]),
            Variant("(b) eks-token, today: token cache only", [*eks, "--no-credential-cache", "--no-aws-cli-cache"],
                    INTERVAL, env("b", peers[1]), peers[1]),
            Variant("(c) aws eks get-token", [str(args.aws), "eks", "get-token", "--cluster-name", CLUSTER,
                                              "--region", REGION], args.cli_every, env("c", peers[2]), peers[2]),
        ]
        wall = replay(variants, Runner(scratch), clock, day_runs)
    finally:
        for peer in peers:
            peer.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    report(variants, args, wall, checks)


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "sts":
        sts(int(sys.argv[2]))
        return
    ap = argparse.ArgumentParser(prog="benches/workday.py", description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=["day"])
    ap.add_argument("--bin", type=Path, required=True, help="a dynamically linked eks-token")
    ap.add_argument("--given", action="store_true", help="the binary was given to workday.sh with --bin")
    ap.add_argument("--aws", type=Path, required=True, help="the AWS CLI (v1, from .venv)")
    ap.add_argument("--libfaketime", required=True, help="path of libfaketime.so.1")
    ap.add_argument("--hours", type=int, default=HOURS, help=f"simulated hours (default {HOURS})")
    ap.add_argument("--cli-every", type=int, default=300,
                    help="simulated seconds between `aws eks get-token` runs (default 300)")
    args = ap.parse_args()
    if args.hours < 1:
        ap.error("--hours must be at least 1")
    if args.cli_every < INTERVAL or args.cli_every % INTERVAL:
        ap.error(f"--cli-every must be a multiple of {INTERVAL}")
    args.bin, args.aws = args.bin.resolve(), args.aws.absolute()
    day(args)


if __name__ == "__main__":
    main()
