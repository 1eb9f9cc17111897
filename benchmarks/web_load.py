"""Load test of `musenet serve`: N concurrent clients on loopback, bounded in jobs per client and in total time.

Each client is one user: it opens a session, asks for candidates, polls its job, downloads a candidate's MIDI and
WAV, then continues that candidate; a 503 or 429 is counted and retried after the server's Retry-After. Reports
latency percentiles per kind of request, end-to-end job times, how many 503s and 429s, and any other failure.

    python benchmarks/web_load.py                         # starts its own server with a small random model
    python benchmarks/web_load.py --url http://127.0.0.1:8000 --clients 20 --rounds 2
    python benchmarks/web_load.py --abuse                 # issue 16's attacks, beside one user who keeps working

`--abuse` runs, while one ordinary user generates and continues: a flood of 1,000 session creations; a primer of
240k notes over 120 s; the largest primer the limits allow, its WAV asked by 6 sessions at once (with /api/info
probed meanwhile), and continued by 5 s; a request with top-p 1e-300; 50 clients that never finish their headers; a job read through
another session; an 8 x 60 s ten-instrument job under a 100 MB store cap. It reports what each got and how the
user fared.

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
                _, job, _ = request(stats, "GET job", f"{base}/api/sessions/{sid}/jobs/{job['job']}")
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


def start_server(
    model: str | None, queue_size: int, extra: tuple[str, ...] = ()
) -> tuple[subprocess.Popen, str, str]:
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
    cmd += ["--queue-size", str(queue_size), *extra]
    proc = subprocess.Popen(cmd, env=dict(os.environ, MUSENET_HOME=home), stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{base}/api/info", timeout=2).read()
            return proc, base, home
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
    p.add_argument(
        "--abuse", action="store_true", help="issue 16's attacks beside one working user (own server)"
    )
    args = p.parse_args()
    if args.abuse:
        return abuse(args)
    if not 1 <= args.clients <= 100 or not 1 <= args.rounds <= 10:
        p.error("--clients must be 1..100 and --rounds 1..10")

    proc = None
    if args.url:
        if urlparse(args.url).hostname not in LOOPBACK:
            p.error("--url must be a loopback address (127.0.0.1, localhost or ::1)")
        base = args.url.rstrip("/")
    else:
        # every client here shares 127.0.0.1: lift the per-address session limit (16) for the ordinary load
        proc, base, _ = start_server(args.model, args.queue_size, ("--sessions-per-client", "1000"))
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


# ---- issue 16: the attacks, beside one user who keeps working --------------------------------------------------


def upload(stats: Stats, base: str, sid: str, data: bytes, kind: str):
    boundary = "musenetbench"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="p.mid"\r\n'
            "Content-Type: audio/midi\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(
        f"{base}/api/sessions/{sid}/primer",
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status, payload = r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        status, payload = e.code, json.loads(e.read())
    stats.add(kind, time.perf_counter() - t0, status)
    return status, payload


def primer(notes: int, seconds: float, pitches: int = 60) -> bytes:
    import numpy as np

    from musenet.codec.events import Piece, make_notes
    from musenet.codec.midi_io import midi_bytes

    t = np.linspace(0, seconds, notes, endpoint=False)
    return midi_bytes(Piece(make_notes(t, t + 0.25, 30 + np.arange(notes) % pitches, 80, 0)))


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def abuse(args) -> int:
    proc, base, home = start_server(args.model, args.queue_size, ("--max-store-mb", "100"))
    stats, lines = Stats(), []
    say = lines.append
    try:
        user_ask = {"instruments": ["piano", "violin", "drums"], "seconds": args.seconds, "candidates": 2}
        # the working user, and the attacker's sessions, all opened before the flood
        user = threading.Thread(
            target=client, args=(base, stats, 4, user_ask, time.monotonic() + args.time_limit)
        )
        user.start()
        time.sleep(1.0)
        renderers = [
            request(stats, "POST session", f"{base}/api/sessions", "POST")[1]["session"] for _ in range(6)
        ]

        # 1. a flood of sessions
        flood, took = timed(lambda: Counter(request(stats, "flood", f"{base}/api/sessions", "POST")[0]
                                            for _ in range(1000)))  # fmt: skip
        say(f"session flood: 1000 POST /api/sessions in {took:.1f} s -> {dict(sorted(flood.items()))}")

        # 2. a primer of 240k notes over 120 s (1.8 MB): refused by its cost, not its bytes
        heavy = primer(240_000, 120.0)
        (status, answer), took = timed(lambda: upload(stats, base, renderers[0], heavy, "heavy upload"))
        say(f"primer of 240k notes / 120 s ({len(heavy) / 2**20:.1f} MB): {status} in {took:.2f} s: "
            f"{answer['detail'] if status >= 400 else 'accepted'}")  # fmt: skip

        # 3. the largest primer the limits allow, its WAV asked by 6 sessions at once
        big = primer(6_000, 120.0)  # 50 notes a second: the densest primer accepted
        nodes = [upload(stats, base, sid, big, "max upload") for sid in renderers]
        assert all(s == 201 for s, _ in nodes), nodes
        probe: list[float] = []
        rendering = threading.Event()

        def probe_info():
            while not rendering.is_set():
                _, t = timed(lambda: request(stats, "GET info", f"{base}/api/info"))
                probe.append(t)
                time.sleep(0.2)

        results: list[tuple[int, float]] = []

        def get_wav(sid, nid):
            (status, _, _), t = timed(
                lambda: request(stats, "GET wav", f"{base}/api/sessions/{sid}/nodes/{nid}/wav")
            )
            results.append((status, t))

        prober = threading.Thread(target=probe_info)
        prober.start()
        wavs = [
            threading.Thread(target=get_wav, args=(sid, n["id"]))
            for sid, (_, n) in zip(renderers, nodes, strict=True)
        ]
        for t in wavs:
            t.start()
        for t in wavs:
            t.join()
        rendering.set()
        prober.join()
        by = Counter(s for s, _ in results)
        slowest = max(t for _, t in results)
        say(f"6 WAVs of 6k notes / 120 s at once: {dict(by)}, slowest answer {slowest:.1f} s; "
            f"/api/info meanwhile p50 {statistics.median(probe) * 1000:.0f} ms, max {max(probe) * 1000:.0f} ms")  # fmt: skip

        # 3b. continuing that primer by 5 s (2 candidates: 2 WAVs of 125 s, 44 MB)
        cont = user_ask | {"seconds": 5.0, "candidates": 2}
        sid, node = renderers[5], nodes[5][1]["id"]
        job = submit(stats, f"{base}/api/sessions/{sid}/nodes/{node}/continue", cont, time.monotonic() + 120)
        t0 = time.perf_counter()
        while job["status"] in ("queued", "running"):
            time.sleep(0.2)
            job = request(stats, "GET job", f"{base}/api/sessions/{sid}/jobs/{job['job']}")[1]
        say(f"continuing that primer by 5 s (2 candidates): {job['status']} ({job['error']}) after "
            f"{time.perf_counter() - t0:.1f} s")  # fmt: skip

        # 4. a sampling setting that once stalled the worker
        ask = user_ask | {"top_p": 1e-300}
        (status, answer, _), took = timed(
            lambda: request(stats, "top-p", f"{base}/api/sessions/{renderers[1]}/generate", "POST", ask)
        )
        say(f"top_p 1e-300: {status} in {took * 1000:.0f} ms: {answer.get('detail')}")

        # 5. slow clients: 50 connections that never finish their headers
        port = int(urlparse(base).port)
        socks = []
        for _ in range(50):
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(b"GET /api/info HTTP/1.1\r\nHost: x\r\n")
            c.settimeout(30)
            socks.append(c)
        _, info_t = timed(lambda: request(stats, "GET info", f"{base}/api/info"))
        t0 = time.perf_counter()
        closed = []
        for c in socks:
            try:
                closed.append(c.recv(1) == b"")
            except OSError:
                closed.append(False)
            c.close()
        say(f"50 slow-header clients: {sum(closed)} closed by the server within {time.perf_counter() - t0:.1f} s; "
            f"/api/info meanwhile {info_t * 1000:.0f} ms")  # fmt: skip

        # 6. a job read through another session
        job = submit(stats, f"{base}/api/sessions/{renderers[2]}/generate", user_ask, time.monotonic() + 60)
        other = request(stats, "other job", f"{base}/api/sessions/{renderers[3]}/jobs/{job['job']}")[0]
        bare = request(stats, "other job", f"{base}/api/jobs/{job['job']}")[0]
        say(f"a job read through another session: {other}; without a session: {bare}")

        # 7. the store cap (100 MB here): an 8 x 60 s ten-instrument job would write ~90 MB of WAVs
        ten = {"instruments": ["piano", "violin", "cello", "flute", "clarinet", "trumpet", "guitar", "bass",
                               "harp", "drums"], "seconds": 60.0, "candidates": 8}  # fmt: skip
        big_job = submit(stats, f"{base}/api/sessions/{renderers[4]}/generate", ten, time.monotonic() + 120)
        t0 = time.perf_counter()
        while big_job["status"] in ("queued", "running") and time.perf_counter() - t0 < 300:
            time.sleep(0.5)
            big_job = request(stats, "GET job", f"{base}/api/sessions/{renderers[4]}/jobs/{big_job['job']}")[
                1
            ]
        user.join()
        on_disk = sum(p.stat().st_size for p in Path(home, "web").rglob("*") if p.is_file())
        say(f"8 x 60 s ten-instrument job under --max-store-mb 100: {big_job['status']} ({big_job['error']}); "
            f"files on disk at the end {on_disk / 2**20:.1f} MB")  # fmt: skip
        alive = urllib.request.urlopen(f"{base}/api/info", timeout=10).status == 200
    finally:
        proc.terminate()
        proc.wait(10)
    say(f"the working user: {len(stats.jobs)}/4 jobs done, job end-to-end {percentiles(stats.jobs)} ms; "
        f"failures {stats.failures or 0}; server alive after: {alive}")  # fmt: skip
    print("\n".join(lines))
    return 0 if alive and not stats.failures and len(stats.jobs) == 4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
