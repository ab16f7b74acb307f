"""The users of `python -m evals.loadtest`, for locust; run through that script, not alone.

`AskUser` asks `POST /api/ask` with the eval-set questions back to back. A 200 is an answer;
a 429 or 503 carrying `Retry-After` is load shedding, counted apart ("ask limited 429", "ask
shed 503") and obeyed; anything else is "ask failed", its kind as the failure message.
`HealthUser` (one of it) asks `/healthz` every `--health-every` seconds.

Locust buckets the response times behind its percentiles (to 10 ms past 100 ms, 100 ms past
1 s, a whole second past 10 s), so each ask's exact latency is also appended to
`--latencies`, one JSON line per ask, with the start of the test on the first line.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from locust import HttpUser, events, task
from locust.env import Environment

EVAL_SET = Path(__file__).resolve().parent / "eval_set.jsonl"
ASK_OK, ASK_SHED, ASK_LIMITED, ASK_FAILED = ("ask 200", "ask shed 503", "ask limited 429",
                                             "ask failed")
HEALTH = "healthz"


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--ask-timeout", type=float, default=120.0,
                        help="seconds before an ask counts as failed")
    parser.add_argument("--health-every", type=float, default=0.5,
                        help="seconds between /healthz polls")
    parser.add_argument("--latencies", default="",
                        help="a JSON-lines file for each ask's exact outcome and latency")


@events.init.add_listener
def _record_latencies(environment: Environment, **_: Any) -> None:
    path = environment.parsed_options.latencies if environment.parsed_options else ""
    if not path:
        return

    def started(**_: Any) -> None:
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps({"start": time.time()}) + "\n")

    def answered(name: str, response_time: float, start_time: float, **_: Any) -> None:
        # `start_time` is epoch seconds and `response_time` perf-counter milliseconds; their
        # sum is when the ask ended, to well under a millisecond, for the elapsed time.
        if name.startswith("ask"):
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps({"name": name, "latency_s": response_time / 1000.0,
                                    "end": start_time + response_time / 1000.0}) + "\n")

    environment.events.test_start.add_listener(started)
    environment.events.request.add_listener(answered)


def questions(path: Path = EVAL_SET) -> list[str]:
    """The question texts of an eval set."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line)["question"] for line in f if line.strip()]


class AskUser(HttpUser):
    """A student asking back to back, waiting only when told to by `Retry-After`."""

    _numbers = itertools.count()
    _asks = questions()

    def on_start(self) -> None:
        """Start at its own place in the eval set, so that users do not ask in step."""
        options = self.environment.parsed_options
        askers = max(1, (options.num_users if options else 1) - HealthUser.fixed_count)
        self.next_ask = next(self._numbers) * max(1, len(self._asks) // askers)
        self.pause = 0.0

    def wait_time(self) -> float:
        """No wait, except as long as the last `Retry-After` said.

        Waiting here rather than sleeping in the task lets the run end during the wait.
        """
        pause, self.pause = self.pause, 0.0
        return pause

    @task
    def ask(self) -> None:
        """One question; the outcome decides the name it is tallied under."""
        question = self._asks[self.next_ask % len(self._asks)]
        self.next_ask += 1
        options = self.environment.parsed_options
        timeout = options.ask_timeout if options else 120.0
        with self.client.post("/api/ask", json={"question": question}, timeout=timeout,
                              catch_response=True) as r:
            retry_after = r.headers.get("Retry-After", "")
            if r.status_code == 200:
                name = ASK_OK
                r.success()
            elif r.status_code in (429, 503) and retry_after.isdigit():
                name = ASK_LIMITED if r.status_code == 429 else ASK_SHED
                self.pause = float(retry_after)
                r.success()
            else:
                name = ASK_FAILED
                kind = _failure_kind(r.status_code, r.error)
                r.failure(f"{kind} without Retry-After" if r.status_code in (429, 503)
                          else kind)
            # The name is only known once the answer is in; locust reports the request
            # when the `with` block ends, under whatever name its metadata then holds.
            r.request_meta = {**r.request_meta, "name": name}


def _failure_kind(status: int, error: Exception | None) -> str:
    # With no HTTP answer at all (a timeout, a dropped connection) locust hands back
    # status 0 and the error.
    return type(error).__name__ if error is not None else str(status)


class HealthUser(HttpUser):
    """One poller of `/healthz`, whose slowest answer must stay under a second."""

    fixed_count = 1

    def wait_time(self) -> float:
        """The `--health-every` interval."""
        options = self.environment.parsed_options
        return options.health_every if options else 0.5

    @task
    def healthz(self) -> None:
        """One poll; anything but a 200 within 10 s is a failed poll."""
        with self.client.get("/healthz", name=HEALTH, timeout=10.0, catch_response=True) as r:
            if r.status_code == 200:
                r.success()
            else:
                r.failure(_failure_kind(r.status_code, r.error))
