"""A class at once: many clients asking `POST /api/ask` for a while, and `/healthz` polled
beside them. Not a unit test; run it by hand:

    .venv/bin/python -m evals.loadtest                  # starts `rag serve` on a free port
    .venv/bin/python -m evals.loadtest --url http://127.0.0.1:7860 --json

Without `--url` it starts the server as the README does (`HF_HUB_OFFLINE=1 rag serve --port
P`), on 127.0.0.1 only, with the per-client rate limit set by `--rate-limit` through
`RAG_RATE_LIMIT` (default 0, off): every client here comes from 127.0.0.1, so the limit would
otherwise measure itself rather than the server. With `--url` the target's own settings apply.

The load is locust (evals/locustfile.py), run headless as a subprocess. Each client asks
questions from evals/eval_set.jsonl back to back. A 429 or 503 carrying `Retry-After` is load
shedding, not a failure: the client waits as told and goes on. Anything else (another status,
no `Retry-After`, a timeout, a dropped connection) is a failed ask. One more locust user asks
`/healthz` every `--health-every` seconds; its slowest answer is the figure that counts. Exit
code 1 if any ask failed or `/healthz` ever took 1 s or more.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
# The request names the locustfile tallies under. Not imported from it: importing locust
# monkey-patches this process for gevent.
ASK_OK, ASK_SHED, ASK_LIMITED, ASK_FAILED = ("ask 200", "ask shed 503", "ask limited 429",
                                             "ask failed")
HEALTH = "healthz"
HEALTH_BUDGET = 1.0  # seconds: /healthz must answer within this throughout
STARTUP_TIMEOUT = 600.0


@dataclass(frozen=True)
class Report:
    """The figures of one run."""

    url: str
    clients: int
    seconds: float
    rate_limit: str
    asks_per_s: float
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    ok_200: int
    busy_503: int
    limited_429: int
    failed: int
    failures: dict[str, int]
    health_polls: int
    health_failed: int
    health_max_s: float

    @property
    def passed(self) -> bool:
        """No failed ask, and /healthz always answered within budget."""
        return self.failed == 0 and self.health_failed == 0 and self.health_max_s < HEALTH_BUDGET


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def started_server(rate_limit: int, log: Path) -> Iterator[str]:
    """`rag serve` on a free 127.0.0.1 port, as the README starts it; yields its URL."""
    port = free_port()
    rag = Path(sys.executable).with_name("rag")
    cmd = [str(rag)] if rag.exists() else [sys.executable, "-m", "ui.cli"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "RAG_RATE_LIMIT": str(rate_limit)}
    url = f"http://127.0.0.1:{port}"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([*cmd, "serve", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("loadtest: the server did not start:\n"
                                     + log.read_text(encoding="utf-8")[-2000:])
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def percentile(values: Sequence[float], q: int) -> float | None:
    """The q-th percentile (inclusive method), or None with no values."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run_locust(url: str, clients: int, seconds: int, health_every: float, timeout: float,
               out: Path) -> None:
    """Locust headless against `url`: `clients` askers and one /healthz poller.

    A subprocess, not an import: locust monkey-patches the standard library for gevent,
    which does not mix with the threads of this script or of a server.
    """
    locust = Path(sys.executable).with_name("locust")
    if not locust.exists():
        raise SystemExit("loadtest: locust is not installed; run `.venv/bin/pip install -e "
                         "'.[dev]'`")
    users = clients + 1  # the /healthz poller is one of locust's users (fixed_count = 1)
    cmd = [str(locust), "-f", str(LOCUSTFILE), "--headless", "--only-summary",
           "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url,
           "--csv", str(out / "locust"),
           # Asks in flight at the time limit are waited for, as a student would.
           "--stop-timeout", f"{math.ceil(timeout) + 5}s",
           "--ask-timeout", str(timeout), "--health-every", str(health_every),
           "--latencies", str(out / "latencies.jsonl")]
    log = out / "locust.log"
    with log.open("w", encoding="utf-8") as f:
        rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT).returncode
    # Locust exits 1 when any request failed, which the report says for itself.
    if rc not in (0, 1) or not (out / "locust_stats.csv").exists():
        raise SystemExit(f"loadtest: locust stopped with exit code {rc}:\n"
                         + log.read_text(encoding="utf-8")[-2000:])


def _csv_rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _failure_kind(error: str) -> str:
    # Locust stores a failure message as the repr of the error it wraps it in.
    match = re.fullmatch(r"CatchResponseError\((['\"])(.*)\1\)", error)
    return match.group(2) if match else error


def read_report(out: Path, url: str, clients: int, seconds: int, rate_limit: str) -> Report:
    """The figures of a finished locust run, from its CSV files and the latency log."""
    stats = {row["Name"]: row for row in _csv_rows(out / "locust_stats.csv")}

    def count(name: str, column: str = "Request Count") -> int:
        return int(stats[name][column]) if name in stats else 0

    failures: Counter[str] = Counter()
    for row in _csv_rows(out / "locust_failures.csv"):
        if row["Name"] == ASK_FAILED:
            failures[_failure_kind(row["Error"])] += int(row["Occurrences"])
    # An exception inside a task loses that ask, so it counts as a failed one.
    for row in _csv_rows(out / "locust_exceptions.csv"):
        failures[f"locustfile error: {row['Message']}"] += int(row["Count"])
    # Exact latencies from the request hook; locust's own percentiles are bucketed.
    start, last_end, ok = 0.0, 0.0, []
    log = out / "latencies.jsonl"
    for row in map(json.loads, log.read_text(encoding="utf-8").splitlines()
                   if log.exists() else []):
        if "start" in row:
            start = row["start"]
            continue
        last_end = max(last_end, row["end"])
        if row["name"] == ASK_OK:
            ok.append(row["latency_s"])
    ok.sort()
    # Until the last answer, or the time limit if every client was waiting out a Retry-After.
    elapsed = max(float(seconds), last_end - start if start else 0.0)
    health = HEALTH in stats
    return Report(
        url=url, clients=clients, seconds=round(elapsed, 1), rate_limit=rate_limit,
        asks_per_s=round(len(ok) / elapsed, 2),
        p50_s=_round(percentile(ok, 50)), p95_s=_round(percentile(ok, 95)),
        max_s=_round(ok[-1] if ok else None),
        ok_200=count(ASK_OK), busy_503=count(ASK_SHED), limited_429=count(ASK_LIMITED),
        failed=sum(failures.values()), failures=dict(failures),
        health_polls=count(HEALTH), health_failed=count(HEALTH, "Failure Count"),
        health_max_s=round(float(stats[HEALTH]["Max Response Time"]) / 1000.0, 3)
        if health else 0.0)


def measure(url: str, clients: int, seconds: float, health_every: float, timeout: float,
            rate_limit: str) -> Report:
    """Run locust against `url` and read its figures."""
    whole = max(1, round(seconds))  # locust's time limit is in whole seconds
    with tempfile.TemporaryDirectory() as tmp:
        run_locust(url, clients, whole, health_every, timeout, Path(tmp))
        return read_report(Path(tmp), url, clients, whole, rate_limit)


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def table(report: Report) -> str:
    """The figures as a two-column table."""
    rows: list[tuple[str, Any]] = [
        ("target", report.url), ("clients", report.clients),
        ("seconds (until the last answer)", report.seconds),
        ("per-client rate limit", report.rate_limit),
        ("answered asks/s", report.asks_per_s),
        ("p50 / p95 / max latency of 200s (s)", f"{report.p50_s} / {report.p95_s} / "
                                                f"{report.max_s}"),
        ("200 answered", report.ok_200), ("503 busy, with Retry-After", report.busy_503),
        ("429 rate-limited, with Retry-After", report.limited_429),
        ("failed (anything else)", report.failed),
        ("/healthz polls (failed)", f"{report.health_polls} ({report.health_failed})"),
        ("/healthz max latency (s)", report.health_max_s),
    ]
    if report.failures:
        rows.append(("failures by kind", report.failures))
    width = max(len(k) for k, _ in rows)
    lines = [f"| {'what':{width}} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {k:{width}} | {v} |" for k, v in rows]
    verdict = "PASS" if report.passed else "FAIL"
    lines.append(f"\n{verdict}: no failed asks and /healthz under {HEALTH_BUDGET:g} s"
                 if report.passed else f"\n{verdict}: failed asks or a slow /healthz")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `python -m evals.loadtest`."""
    p = argparse.ArgumentParser(prog="python -m evals.loadtest", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", help="a running server on this machine (default: start one)")
    p.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    p.add_argument("--seconds", type=float, default=60.0,
                   help="how long they ask, to the whole second (default 60)")
    p.add_argument("--health-every", type=float, default=0.5,
                   help="seconds between /healthz polls (default 0.5)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds before an ask counts as failed (default 120)")
    p.add_argument("--rate-limit", type=int, default=0,
                   help="RAG_RATE_LIMIT for the server it starts (default 0: off, since every "
                        "client here is 127.0.0.1)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)
    if args.clients < 1 or args.seconds < 1 or args.health_every <= 0 or args.timeout <= 0:
        p.error("--clients and --seconds must be at least 1, --health-every and --timeout "
                "above 0")
    if args.url:
        host = httpx.URL(args.url).host
        if host not in ("127.0.0.1", "localhost", "::1"):
            p.error("--url must be a server on this machine (127.0.0.1)")
        report = measure(args.url.rstrip("/"), args.clients, args.seconds, args.health_every,
                         args.timeout, "the target's own setting")
    else:
        limit = (f"RAG_RATE_LIMIT={args.rate_limit} (" + ("off" if args.rate_limit == 0 else
                 f"{args.rate_limit} a minute") + "; every client here is 127.0.0.1)")
        with tempfile.TemporaryDirectory() as tmp, \
                started_server(args.rate_limit, Path(tmp) / "server.log") as url:
            if not args.json:
                print(f"server started at {url} with {limit}", file=sys.stderr)
            report = measure(url, args.clients, args.seconds, args.health_every, args.timeout,
                             limit)
    if args.json:
        print(json.dumps({**asdict(report), "passed": report.passed}, indent=2))
    else:
        print(table(report))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
