"""Load test of `musenet serve`: N concurrent clients on loopback, bounded in jobs per client and in total time.

Each client is one user: it opens a session, asks for candidates, polls its job, downloads a candidate's MIDI and
WAV, then continues that candidate; a 503 or 429 is counted and retried after the server's Retry-After. Reports
latency percentiles per kind of request, end-to-end job times, how many 503s and 429s, and any other failure.

    python benchmarks/web_load.py                         # starts its own server with a small random model
    python benchmarks/web_load.py --url http://127.0.0.1:8000 --clients 20 --rounds 2

Only loopback addresses are accepted: this is a load generator, never to be pointed at someone else's server.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlparse

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.jobs: list[float] = []
        self.status: Counter = Counter()
        self.failures: list[str] = []

    def add(self, kind: str, seconds: float, status: int) -> None:
        with self.lock:
            self.latency[kind].append(seconds)
            self.status[status] += 1


def request(stats: Stats, kind: str, url: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            payload, status, headers = r.read(), r.status, r.headers
    except urllib.error.HTTPError as e:
        payload, status, headers = e.read(), e.code, e.headers
    stats.add(kind, time.perf_counter() - t0, status)
    is_json = (headers.get("content-type") or "").startswith("application/json")
    return status, (json.loads(payload) if is_json else payload), headers


def submit(stats: Stats, url: str, body: dict, deadline: float) -> dict | None:
    """POSTs a job, retrying after 503/429 as the server asks, until the deadline."""
    while time.monotonic() < deadline:
        status, answer, headers = request(stats, "POST job", url, "POST", body)
        if status == 202:
            return answer
        if status in (503, 429):
            time.sleep(min(float(headers.get("Retry-After", "1")), max(0.0, deadline - time.monotonic())))
            continue
        raise RuntimeError(f"POST {url}: {status} {answer}")
    return None


def client(base: str, stats: Stats, rounds: int, ask: dict, deadline: float) -> None:
    try:
        _, s, _ = request(stats, "POST session", f"{base}/api/sessions", "POST")
        sid = s["session"]
        parent = None
        for _ in range(rounds):
            url = f"{base}/api/sessions/{sid}/" + (f"nodes/{parent}/continue" if parent else "generate")
            t0 = time.perf_counter()
            job = submit(stats, url, ask, deadline)
            if job is None:
                return
            while job["status"] in ("queued", "running"):
                if time.monotonic() > deadline:
                    return
                time.sleep(0.25)
                _, job, _ = request(stats, "GET job", f"{base}/api/jobs/{job['job']}")
            if job["status"] != "done":
                raise RuntimeError(f"job {job['status']}: {job['error']}")
            with stats.lock:
                stats.jobs.append(time.perf_counter() - t0)
            parent = job["nodes"][0]["id"]
            node = f"{base}/api/sessions/{sid}/nodes/{parent}"
            for kind, suffix in (("GET notes", ""), ("GET midi", "/midi"), ("GET wav", "/wav")):
                status, _, _ = request(stats, kind, node + suffix)
                if status != 200:
                    raise RuntimeError(f"{kind}: {status}")
    except Exception as e:
        with stats.lock:
            stats.failures.append(f"{type(e).__name__}: {e}")


def percentiles(xs: list[float]) -> str:
    if not xs:
        return "-"
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=100, method="inclusive") if len(xs) > 1 else xs * 99
    return f"{len(xs):5d}  p50 {q[49] * 1000:8.1f}  p90 {q[89] * 1000:8.1f}  p99 {q[98] * 1000:8.1f}  max {xs[-1] * 1000:8.1f}"


def start_server(model: str | None, queue_size: int) -> tuple[subprocess.Popen, str]:
    home = tempfile.mkdtemp(prefix="musenet-load-")
    if model is None:  # a small random model: noise, but the same requests, checks and files as a trained one
        import torch

        from musenet.codec.vocab import Vocab
        from musenet.model import checkpoint
        from musenet.model.config import GPTConfig
        from musenet.model.gpt import GPT

        vocab = Vocab()
        torch.manual_seed(0)
        net = GPT(GPTConfig(vocab_size=vocab.size, block_size=128, n_layer=2, n_head=2, n_embd=32))
        model = str(Path(home) / "model")
        checkpoint.save(model, net, step=0, seed=0, vocab=vocab.config.to_dict(), dtype="bf16")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "musenet", "serve", "--model", model, "--port", str(port), "--threads", "1"]
    cmd += ["--queue-size", str(queue_size)]
    proc = subprocess.Popen(cmd, env=dict(os.environ, MUSENET_HOME=home), stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/api/info", timeout=2).read()
            return proc, base
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="a running server on loopback (default: start one)")
    p.add_argument("--model", help="model folder for the server started here (default: a small random one)")
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2, help="jobs per client: a generate, then continues")
    p.add_argument("--seconds", type=float, default=3.0, help="music asked per job")
    p.add_argument("--candidates", type=int, default=2)
    p.add_argument("--queue-size", type=int, default=8, help="queue of the server started here")
    p.add_argument(
        "--time-limit", type=float, default=240.0, help="stop every client after this many seconds"
    )
    args = p.parse_args()
    if not 1 <= args.clients <= 100 or not 1 <= args.rounds <= 10:
        p.error("--clients must be 1..100 and --rounds 1..10")

    proc = None
    if args.url:
        if urlparse(args.url).hostname not in LOOPBACK:
            p.error("--url must be a loopback address (127.0.0.1, localhost or ::1)")
        base = args.url.rstrip("/")
    else:
        proc, base = start_server(args.model, args.queue_size)
    try:
        stats = Stats()
        ask = {
            "instruments": ["piano", "violin", "drums"],
            "seconds": args.seconds,
            "candidates": args.candidates,
        }
        deadline = time.monotonic() + args.time_limit
        t0 = time.perf_counter()
        threads = [
            threading.Thread(target=client, args=(base, stats, args.rounds, ask, deadline))
            for _ in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        alive = urllib.request.urlopen(f"{base}/api/info", timeout=10).status == 200
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)

    done = len(stats.jobs)
    print(f"{args.clients} clients x {args.rounds} jobs ({args.candidates} candidates x {args.seconds:g} s), "
          f"{wall:.1f} s wall, limit {args.time_limit:g} s")  # fmt: skip
    print(
        f"jobs done {done}/{args.clients * args.rounds}; responses by status {dict(sorted(stats.status.items()))}"
    )
    print(f"503 (queue full): {stats.status[503]}, 429 (per-session limit): {stats.status[429]}, "
          f"failures: {len(stats.failures)}, server alive after: {alive}")  # fmt: skip
    print("latency (ms)        count")
    for kind in sorted(stats.latency):
        print(f"  {kind:<14} {percentiles(stats.latency[kind])}")
    print(f"  {'job end-to-end':<14} {percentiles(stats.jobs)}")
    for f in Counter(stats.failures).most_common(5):
        print("  failure:", *f)
    return 0 if alive and not stats.failures and done == args.clients * args.rounds else 1


if __name__ == "__main__":
    raise SystemExit(main())
