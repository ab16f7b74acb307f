"""Load shedding for `POST /api/ask` (ui/limits.py): the token bucket with an injected clock,
the bounded line of questions, and both through the real app (tiny corpus, hash embedder)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rag.pipeline import Pipeline
from rag.settings import Settings, SettingsError
from ui.limits import Admission, RateLimiter, route_path
from ui.server import create_app

TINY = Path(__file__).parent / "data" / "tiny"
QUESTION = {"question": "How do bees make honey?"}
ORIGIN = "https://course.example.edu"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# The token bucket


def test_a_client_may_ask_a_minutes_worth_at_once_then_waits_for_a_token() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=6, clock=clock)
    assert [limiter.take("a") for _ in range(6)] == [0.0] * 6
    assert limiter.take("a") == pytest.approx(10.0)  # one token every 60/6 s
    clock.now += 4.0
    assert limiter.take("a") == pytest.approx(6.0)  # a refused ask spends nothing
    clock.now += 6.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(10.0)


def test_the_bucket_refills_to_capacity_and_no_further() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=3, clock=clock)
    for _ in range(3):
        limiter.take("a")
    clock.now += 3600.0  # an hour idle still allows only a minute's worth
    assert [limiter.take("a") for _ in range(4)][-1] > 0
    assert sum(limiter.take("b") == 0.0 for _ in range(5)) == 3


def test_clients_have_their_own_buckets() -> None:
    limiter = RateLimiter(per_minute=1, clock=Clock())
    assert limiter.take("10.0.0.1") == 0.0
    assert limiter.take("10.0.0.1") > 0
    assert limiter.take("10.0.0.2") == 0.0


def test_memory_is_bounded_by_the_cap_and_refilled_buckets_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=2, max_clients=3, clock=clock)
    for i in range(100):
        limiter.take(f"client-{i}")
        assert len(limiter) <= 3
    clock.now += 60.0  # every bucket is full again: forgetting them loses nothing
    limiter.take("late")
    assert len(limiter) == 1


def test_over_the_cap_the_least_recently_seen_client_is_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=1, max_clients=2, clock=clock)
    limiter.take("old")
    limiter.take("recent")
    limiter.take("old")  # refused, but seen: now "recent" is the oldest
    limiter.take("new")
    assert limiter.take("old") > 0  # still remembered, still empty
    assert limiter.take("recent") == 0.0  # forgotten, so a fresh bucket


def test_a_rate_of_zero_is_not_a_limiter() -> None:
    with pytest.raises(ValueError):
        RateLimiter(per_minute=0)


# The line of questions


def test_admission_runs_some_queues_some_and_turns_the_rest_away() -> None:
    async def scenario() -> tuple[list[str], list[bool], int]:
        admission = Admission(running=2, waiting=1)
        release = asyncio.Event()
        events: list[str] = []

        async def holder(name: str) -> bool:
            async with admission.enter() as admitted:
                if admitted:
                    events.append(f"run {name}")
                    await release.wait()
                return admitted

        tasks = [asyncio.create_task(holder(n)) for n in "abc"]
        for _ in range(5):  # let them reach their turn or the line (no clock involved)
            await asyncio.sleep(0)
        running_before = list(events)
        inside = admission.inside
        async with admission.enter() as fourth:
            assert not fourth  # refused at once, without waiting
        release.set()
        results = await asyncio.gather(*tasks)
        return running_before + events[len(running_before):], [*results, fourth], inside

    events, results, inside = asyncio.run(scenario())
    assert events == ["run a", "run b", "run c"]  # c waited for a turn, then ran
    assert results == [True, True, True, False]
    assert inside == 3


def test_route_path_strips_the_proxy_prefix() -> None:
    assert route_path({"path": "/course-chat/api/ask", "root_path": "/course-chat"}) == "/api/ask"
    assert route_path({"path": "/api/ask", "root_path": ""}) == "/api/ask"


# Settings


def test_limits_are_settings_with_a_classroom_default() -> None:
    assert Settings().rate_limit == 60
    settings = Settings.load(env={"RAG_RATE_LIMIT": "0", "RAG_ASK_QUEUE": "5"})
    assert (settings.rate_limit, settings.ask_queue) == (0, 5)
    for bad in ({"rate_limit": -1}, {"ask_workers": 0}, {"ask_queue": -1}):
        with pytest.raises(SettingsError):
            Settings(**bad)


# Through the app


@pytest.fixture(scope="module")
def tiny_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Tiny corpus, hash embedder, env ignored, its own data dir."""
    return Settings.load(env={}, model="hash", corpus=str(TINY),
                         data_dir=str(tmp_path_factory.mktemp("rag-data")))


def app_with(settings: Settings, **limits: Any) -> Any:
    """The whole server app with some limits changed."""
    pipeline = Pipeline.open(settings.replace(**limits), status=lambda _: None, progress=False)
    return create_app(pipeline, cors_origins=[ORIGIN]), pipeline


def test_over_the_rate_limit_an_ask_gets_429_with_retry_after(tiny_settings: Settings) -> None:
    app, _ = app_with(tiny_settings, rate_limit=2)
    with TestClient(app) as client:
        assert [client.post("/api/ask", json=QUESTION).status_code for _ in range(2)] == [200, 200]
        r = client.post("/api/ask", json=QUESTION, headers={"Origin": ORIGIN})
        assert r.status_code == 429
        # One token every 30 s at 2 a minute, less what refilled while the two were answered.
        assert 1 <= int(r.headers["retry-after"]) <= 30
        assert set(r.json()) == {"error"} and "\n" not in r.json()["error"]
        # A course site allowed by CORS can read the refusal like any other error.
        assert r.headers["access-control-allow-origin"] == ORIGIN
        # Only asks are limited.
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/documents").status_code == 200


def test_rate_limit_zero_turns_it_off(tiny_settings: Settings) -> None:
    app, _ = app_with(tiny_settings, rate_limit=0)
    with TestClient(app) as client:
        codes = {client.post("/api/ask", json=QUESTION).status_code for _ in range(5)}
    assert codes == {200}


@pytest.fixture
def blocked(tiny_settings: Settings) -> Iterator[dict[str, Any]]:
    """An app answering one question at a time with no line, whose questions wait for a
    signal, and a pool to send them from."""
    app, pipeline = app_with(tiny_settings, ask_workers=1, ask_queue=0, rate_limit=0)
    entered, release = threading.Event(), threading.Event()
    real_ask = pipeline.ask

    def slow_ask(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        release.wait(timeout=60)
        return real_ask(*args, **kwargs)

    pipeline.ask = slow_ask  # type: ignore[method-assign]
    with TestClient(app) as client, ThreadPoolExecutor(2) as pool:
        try:
            yield {"client": client, "pool": pool, "entered": entered, "release": release}
        finally:
            release.set()


def test_past_the_line_an_ask_gets_503_at_once_and_healthz_still_answers(
        blocked: dict[str, Any]) -> None:
    client = blocked["client"]
    first = blocked["pool"].submit(client.post, "/api/ask", json=QUESTION)
    assert blocked["entered"].wait(timeout=30)
    # The one worker is busy and no one may wait: refused, not queued.
    r = client.post("/api/ask", json=QUESTION)
    assert r.status_code == 503
    assert int(r.headers["retry-after"]) >= 1
    assert set(r.json()) == {"error"} and "busy" in r.json()["error"]
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    blocked["release"].set()
    assert first.result(timeout=30).status_code == 200
    assert client.post("/api/ask", json=QUESTION).status_code == 200  # the turn was given back


def test_the_openapi_schema_documents_429_and_503_with_retry_after(
        tiny_settings: Settings) -> None:
    app, _ = app_with(tiny_settings)
    with TestClient(app) as client:
        responses = client.get("/openapi.json").json()["paths"]["/api/ask"]["post"]["responses"]
    for code in ("429", "503"):
        assert "Retry-After" in responses[code]["headers"]
        assert responses[code]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorOut")


def test_the_limits_hold_under_a_proxy_prefix(tiny_settings: Settings) -> None:
    # As uvicorn does with --root-path: the prefix is in root_path and in front of the path.
    app, _ = app_with(tiny_settings, rate_limit=1)
    with TestClient(app, root_path="/course-chat") as client:
        huge = {"question": "a" * 100_000}
        assert client.post("/course-chat/api/ask", json=huge).status_code == 413
        codes = [client.post("/course-chat/api/ask", json=QUESTION).status_code
                 for _ in range(2)]
    assert codes == [200, 429]
