"""Twenty people asking at once: latency of concurrent `POST /api/ask` calls.

Not collected by pytest (no `test_` prefix). Run it against a running server:

    HF_HUB_OFFLINE=1 .venv/bin/rag serve --port 7860 &
    .venv/bin/python tests/bench_concurrency.py --url http://127.0.0.1:7860 --clients 20

Each round starts all clients together (a barrier), each client asks one question, and the
script prints how many got an answer with citations or an abstention, and p50/p95/max latency.
All clients come from one address, so past 60 asks a minute the server's per-client rate limit
answers 429: start it with `RAG_RATE_LIMIT=0` for more rounds. For a sustained class-sized
load, use `python -m evals.loadtest` instead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

QUESTIONS = [
    "What does dvoevlastie translate to in English?",
    "What did Kalinin say about Lenin's April Theses?",
    "What does the Russian word sovet mean?",
    "What is dual power?",
    "Who coined the term dual power?",
    "What does vlast mean?",
    "What were the soviets in 1917?",
    "What is the Provisional Government?",
    "How do anarchists use the idea of dual power?",
    "What happened at Kronstadt in 1921?",
    "What did the Bolsheviks want in March 1917?",
    "What does prefigurative politics mean?",
    "Who wrote about the slogan All Power to the Soviets?",
    "What is workers' self-management?",
    "What did Trotsky say about dual power?",
    "What is a factory committee?",
    "Why did the soviets lose power after 1917?",
    "What is the embryo of the new world?",
    "What did Lenin say about the state?",
    "What is the boiling point of mercury?",
]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank on sorted values."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def one_round(url: str, clients: int, offset: int, timeout: float) -> list[dict[str, Any]]:
    """All clients ask at once; one result dict per client."""
    barrier = threading.Barrier(clients)

    def client(i: int) -> dict[str, Any]:
        question = QUESTIONS[(offset + i) % len(QUESTIONS)]
        with httpx.Client(timeout=timeout) as http:
            barrier.wait()
            t0 = time.perf_counter()
            try:
                r = http.post(f"{url}/api/ask", json={"question": question})
                seconds = time.perf_counter() - t0
                data = r.json()
                ok = r.status_code == 200 and (bool(data.get("citations"))
                                               or data.get("abstained") is True)
                return {"ok": ok, "status": r.status_code, "seconds": seconds,
                        "cited": bool(data.get("citations")), "question": question}
            except httpx.HTTPError as e:
                return {"ok": False, "status": None, "seconds": time.perf_counter() - t0,
                        "cited": False, "question": question, "error": repr(e)}

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(client, range(clients)))


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and print one summary line per round (and JSON with --json)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", default="http://127.0.0.1:7860")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--json", action="store_true", help="also print the results as JSON")
    args = p.parse_args(argv)
    httpx.get(f"{args.url}/healthz", timeout=10).raise_for_status()
    report = []
    for n in range(args.rounds):
        t0 = time.perf_counter()
        results = one_round(args.url, args.clients, n * args.clients, args.timeout)
        wall = time.perf_counter() - t0
        secs = [r["seconds"] for r in results]
        ok = sum(r["ok"] for r in results)
        row = {"round": n + 1, "clients": args.clients, "answered": ok,
               "with_citations": sum(r["cited"] for r in results),
               "p50_s": round(statistics.median(secs), 3),
               "p95_s": round(percentile(secs, 95), 3), "max_s": round(max(secs), 3),
               "wall_s": round(wall, 3)}
        report.append(row)
        print(f"round {row['round']}: {ok}/{args.clients} answered "
              f"({row['with_citations']} with citations), p50 {row['p50_s']:.2f} s, "
              f"p95 {row['p95_s']:.2f} s, max {row['max_s']:.2f} s, wall {row['wall_s']:.2f} s")
        failed = [r for r in results if not r["ok"]]
        for r in failed:
            print(f"  failed: {r}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0 if all(r["answered"] == r["clients"] for r in report) else 1


if __name__ == "__main__":
    sys.exit(main())
