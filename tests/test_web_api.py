"""The co-composer's JSON API through FastAPI's TestClient, with a small random model (noise, but every promise holds)."""

import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from runcli import assert_user_error, main, subprocess

from musenet import load
from musenet.codec.events import Piece, make_notes
from musenet.codec.midi_io import midi_bytes
from musenet.codec.safe import SafeLoader
from musenet.codec.vocab import Vocab
from musenet.model import checkpoint
from musenet.model.config import GPTConfig
from musenet.model.gpt import GPT
from musenet.web.app import create_app
from musenet.web.config import ServeConfig
from musenet.web.service import CoComposer

VOCAB = Vocab()
SMALL = {"instruments": ["piano", "violin", "drums"], "seconds": 2, "candidates": 2, "seed": 3}
DRUM_S = 0.1  # a drum hit lasts 100 ms (codec), so one struck at the very end rings that much past it


def save_random_model(path: Path, vocab: Vocab = VOCAB, train: dict | None = None) -> Path:
    """`train`: the training config it claims (e.g. {"style_dropout": 0.1}: a model that takes guidance)."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=128, n_layer=2, n_head=2, n_embd=32))
    checkpoint.save(path, model, step=0, seed=0, vocab=vocab.config.to_dict(), train=train, dtype="bf16")
    return path


@pytest.fixture(scope="module")
def composer(tmp_path_factory):
    return load(save_random_model(tmp_path_factory.mktemp("model")))


def make_client(composer, root: Path, **limits):
    service = CoComposer(composer, ServeConfig(**limits), root=root)
    return TestClient(create_app(service), raise_server_exceptions=False), service


@pytest.fixture
def client(composer, musenet_home):
    c, service = make_client(composer, musenet_home / "web")
    with c:
        yield c
    service.close()


def session(client) -> str:
    r = client.post("/api/sessions")
    assert r.status_code == 201
    return r.json()["session"]


def finish(client, job: dict, timeout=120.0) -> dict:
    deadline = time.monotonic() + timeout
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = client.get(f"/api/sessions/{job['session']}/jobs/{job['job']}").json()
    return job


def primer_midi(seconds=3.0) -> bytes:
    t = np.arange(0, seconds, 0.5)
    return midi_bytes(Piece(make_notes(t, t + 0.4, 60 + (np.arange(len(t)) % 12), 80, 0)))


def one_line_error(r, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and words in detail, detail


def test_model_info(client):
    info = client.get("/api/info").json()
    assert info["styles"] == list(VOCAB.config.styles) == client.get("/api/styles").json()
    assert (
        info["instruments"]
        == [i.name for i in VOCAB.config.instruments]
        == client.get("/api/instruments").json()
    )
    assert info["limits"]["max_upload_bytes"] == 2 * 1024 * 1024 and info["defaults"]["candidates"] == 4


def test_generate_continue_branch_and_download(client):
    sid = session(client)
    r = client.post(f"/api/sessions/{sid}/generate", json=SMALL)
    assert r.status_code == 202 and r.json()["status"] in ("queued", "running", "done")
    job = finish(client, r.json())
    assert job["status"] == "done" and job["progress"] == 1.0, job
    roots = job["nodes"]
    assert [n["candidate"] for n in roots] == [1, 2] and all(n["parent"] is None for n in roots)
    for n in roots:
        assert set(n["instruments"]) <= {"piano", "violin", "drums"} and 0 < n["seconds"] <= 2 + DRUM_S + 1e-6
        midi = client.get(f"/api/sessions/{sid}/nodes/{n['id']}/midi")
        assert midi.status_code == 200 and midi.headers["content-type"] == "audio/midi"
        assert "attachment" in midi.headers["content-disposition"]
        with SafeLoader() as loader:
            assert len(loader.load_bytes(midi.content)) == n["notes"]
        wav = client.get(f"/api/sessions/{sid}/nodes/{n['id']}/wav")
        assert wav.status_code == 200 and wav.content[:4] == b"RIFF" and len(wav.content) > 44100 * 4 * 2
        assert (
            "attachment"
            in client.get(f"/api/sessions/{sid}/nodes/{n['id']}/wav?download=true").headers[
                "content-disposition"
            ]
        )

    # continue candidate 1: its notes are kept verbatim, the new music follows
    first = roots[0]
    r = client.post(
        f"/api/sessions/{sid}/nodes/{first['id']}/continue", json=SMALL | {"instruments": ["flute"]}
    )
    kids = finish(client, r.json())["nodes"]
    assert [k["parent"] for k in kids] == [first["id"]] * 2
    parent_notes = client.get(f"/api/sessions/{sid}/nodes/{first['id']}").json()["notes"]
    for k in kids:
        assert k["primer_seconds"] > 0 and k["seconds"] <= first["seconds"] + 2 + DRUM_S + 1e-6
        notes = client.get(f"/api/sessions/{sid}/nodes/{k['id']}").json()["notes"]
        missing = Counter(map(tuple, parent_notes)) - Counter(map(tuple, notes))
        assert not missing and len(notes) >= len(parent_notes)  # every note of the parent, verbatim
        assert set(k["instruments"]) <= {"piano", "violin", "drums", "flute"}

    # go back and branch from candidate 2: the tree holds both branches
    r = client.post(f"/api/sessions/{sid}/nodes/{roots[1]['id']}/continue", json=SMALL | {"candidates": 1})
    branch = finish(client, r.json())["nodes"]
    tree = client.get(f"/api/sessions/{sid}").json()["nodes"]
    parents = [n["parent"] for n in tree]
    assert len(tree) == 5 and parents.count(None) == 2
    assert parents.count(first["id"]) == 2 and branch[0]["parent"] == roots[1]["id"]


def test_upload_a_primer_and_generate_from_it(client, musenet_home):
    sid = session(client)
    r = client.post(f"/api/sessions/{sid}/primer", files={"file": ("../../x/my song.mid", primer_midi(6.0))},
                    data={"seconds": "3"})  # fmt: skip
    assert r.status_code == 201, r.text
    node = r.json()
    assert node["kind"] == "primer" and node["label"].startswith("my song.mid (first 3 s")
    assert node["instruments"] == ["piano"] and node["seconds"] <= 3.0
    files = [p for p in (musenet_home / "web").rglob("*") if p.is_file()]
    assert files and all(
        p.suffix in (".mid", ".wav") and p.parent.parent == musenet_home / "web" for p in files
    )
    job = finish(
        client, client.post(f"/api/sessions/{sid}/generate", json=SMALL | {"primer": node["id"]}).json()
    )
    assert job["status"] == "done" and {n["parent"] for n in job["nodes"]} == {node["id"]}
    # the primer's own audio is rendered on first request
    assert client.get(f"/api/sessions/{sid}/nodes/{node['id']}/wav").content[:4] == b"RIFF"


def test_bad_and_oversized_uploads_are_refused_and_the_server_keeps_serving(client):
    sid = session(client)
    url = f"/api/sessions/{sid}/primer"
    one_line_error(client.post(url, files={"file": ("a.mid", b"not midi at all")}), 400, "not a MIDI file")
    truncated = primer_midi()[:30]
    one_line_error(client.post(url, files={"file": ("b.mid", truncated)}), 400, "b.mid")
    header_only = b"MThd\x00\x00\x00\x06\x00\x00\x00\x00\x00\x60"
    one_line_error(client.post(url, files={"file": ("c.mid", header_only)}), 400, "no notes")
    big = b"MThd" + b"\0" * (3 * 1024 * 1024)
    one_line_error(client.post(url, files={"file": ("big.mid", big)}), 413, "limit of 2.0 MB")

    def chunks():  # a multipart form sent chunked, with no Content-Length: the bytes are counted as they arrive
        yield b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="e.mid"\r\n\r\nMThd'
        for _ in range(40):
            yield b"\0" * 100_000

    r = client.post(url, content=chunks(), headers={"content-type": "multipart/form-data; boundary=XyZ"})
    one_line_error(r, 413, "limit")
    one_line_error(
        client.post(url, files={"file": ("d.mid", primer_midi())}, data={"seconds": "-1"}), 400, "seconds"
    )
    assert client.get("/api/info").status_code == 200
    assert client.get(f"/api/sessions/{sid}").json()["nodes"] == []  # nothing half-made was kept


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({"instruments": ["kazoo"]}, 400, "unknown instrument 'kazoo'"),
        ({"instruments": []}, 400, "at least one instrument"),
        ({"style": "klingon"}, 400, "unknown style"),
        ({"seconds": 1000}, 400, "between 0 and 120"),
        ({"seconds": "abc"}, 422, "seconds"),
        ({"candidates": 0}, 422, "candidates"),
        ({"temperature": 1000}, 422, "temperature"),
        ({"top_p": 2}, 422, "top_p"),
        ({"seed": -1}, 422, "seed"),
        ({"primer": "nope"}, 404, "unknown node"),
    ],
)
def test_bad_requests_are_one_line_errors(client, body, status, words):
    sid = session(client)
    one_line_error(client.post(f"/api/sessions/{sid}/generate", json=body), status, words)


def test_sessions_are_isolated_and_ids_never_become_paths(client):
    a, b = session(client), session(client)
    assert a != b and len(a) >= 22
    node = client.post(f"/api/sessions/{a}/primer", files={"file": ("p.mid", primer_midi())}).json()
    nid = node["id"]
    assert client.get(f"/api/sessions/{a}/nodes/{nid}/midi").status_code == 200
    for url in (
        f"/api/sessions/{b}/nodes/{nid}/midi",  # someone else's node through my session
        f"/api/sessions/{b}/nodes/{nid}",
        f"/api/sessions/nope/nodes/{nid}/wav",
        f"/api/sessions/{a}/nodes/..%2F..%2Fetc%2Fpasswd/midi",
        f"/api/sessions/{a}/nodes/{nid[:10]}/midi",
        f"/api/sessions/{a}/jobs/nope",
    ):
        r = client.get(url)
        assert r.status_code == 404, url
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/%2e%2e/app.py").status_code == 404
    one_line_error(client.post(f"/api/sessions/{b}/nodes/{nid}/continue", json=SMALL), 404, "unknown node")
    assert [n["id"] for n in client.get(f"/api/sessions/{b}").json()["nodes"]] == []


class Gated:
    """The real composer, held at a gate before generating: a job that stays running until the test says."""

    def __init__(self, composer):
        self.inner, self.gate, self.started = composer, threading.Event(), threading.Event()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def compose(self, cfg, **kw):
        self.started.set()
        while not self.gate.wait(0.01):
            kw["progress"](0.0)  # a waiting job still reports, so it can be stopped
        return self.inner.compose(cfg, **kw)


def test_a_full_queue_answers_503_with_retry_after(composer, musenet_home):
    gated = Gated(composer)
    client, service = make_client(gated, musenet_home / "web", queue_size=1, jobs_per_session=1)
    try:
        users = [session(client) for _ in range(3)]
        running = client.post(f"/api/sessions/{users[0]}/generate", json=SMALL).json()
        assert gated.started.wait(30)
        queued = client.post(f"/api/sessions/{users[1]}/generate", json=SMALL)
        assert queued.status_code == 202 and queued.json()["ahead"] == 1
        busy = client.post(f"/api/sessions/{users[2]}/generate", json=SMALL)
        one_line_error(busy, 503, "busy")
        assert int(busy.headers["retry-after"]) >= 1
        mine = client.post(f"/api/sessions/{users[0]}/generate", json=SMALL)
        one_line_error(mine, 429, "in progress")
        assert client.get("/api/info").status_code == 200  # still serving while the model is busy
        gated.gate.set()
        assert finish(client, running)["status"] == "done"
        assert finish(client, queued.json())["status"] == "done"
    finally:
        gated.gate.set()
        service.close()


def test_a_job_past_the_time_limit_is_stopped_and_leaves_nothing(composer, musenet_home):
    client, service = make_client(composer, musenet_home / "web", job_timeout_s=1e-6)
    try:
        sid = session(client)
        job = finish(client, client.post(f"/api/sessions/{sid}/generate", json=SMALL).json())
        assert job["status"] == "error" and "limit" in job["error"]
        assert client.get(f"/api/sessions/{sid}").json()["nodes"] == []
    finally:
        service.close()


def test_cancel_a_job(composer, musenet_home):
    gated = Gated(composer)
    client, service = make_client(gated, musenet_home / "web")
    try:
        sid = session(client)
        job = client.post(f"/api/sessions/{sid}/generate", json=SMALL).json()
        assert gated.started.wait(30)
        client.delete(f"/api/sessions/{sid}/jobs/{job['job']}")
        assert finish(client, job)["status"] == "cancelled"
    finally:
        gated.gate.set()
        service.close()


def test_the_store_cap_refuses_writes_and_keeps_every_session(composer, musenet_home):
    client, service = make_client(composer, musenet_home / "web", max_store_bytes=1)  # every file is over it
    try:
        old = session(client)
        up = client.post(f"/api/sessions/{old}/primer", files={"file": ("p.mid", primer_midi())})
        one_line_error(up, 503, "storage is full")
        assert int(up.headers["retry-after"]) >= 1
        new = session(client)  # creating a session evicts nobody
        assert client.get(f"/api/sessions/{old}").status_code == 200
        job = finish(client, client.post(f"/api/sessions/{new}/generate", json=SMALL).json())
        assert job["status"] == "error" and "storage is full" in job["error"]
        assert service.store.total_bytes == 0
        assert [p for p in (musenet_home / "web").rglob("*") if p.is_file()] == []
    finally:
        service.close()


def test_page_and_docs_are_served_from_this_server_only(client):
    page = client.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    static = Path(__file__).resolve().parents[1] / "musenet" / "web" / "static"
    assert sorted(p.name for p in static.iterdir()) == ["app.js", "index.html", "style.css"]
    for p in static.iterdir():
        text = p.read_text()
        assert "http://" not in text and "https://" not in text, p  # nothing from a CDN
        assert client.get("/" if p.name == "index.html" else f"/static/{p.name}").text == text
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs-static/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/api/styles", "/api/instruments", "/api/sessions/{sid}/generate",
              "/api/sessions/{sid}/nodes/{nid}/continue", "/api/sessions/{sid}/nodes/{nid}/midi",
              "/api/sessions/{sid}/nodes/{nid}/wav", "/api/sessions/{sid}/jobs/{jid}", "/api/sessions/{sid}/primer"):  # fmt: skip
        assert p in paths, p


def test_serve_through_the_real_entry_point_fails_in_one_line(tmp_path):
    r = main("serve", "--help")
    assert r.returncode == 0 and "--port" in r.stdout and "--max-upload-mb" in r.stdout
    assert_user_error(subprocess("serve", "--model", tmp_path / "nope", "--port", 0), "not found")
    assert_user_error(
        main("serve", "--model", tmp_path / "nope", "--queue-size", 0), "--queue-size must be at least 1"
    )
    assert_user_error(main("serve", "--max-upload-mb", 0), "--max-upload-mb must be at least 1")


def test_corrupt_files_are_one_line_400s(client, tmp_path):
    from conftest import CORRUPT, PACKAGED, corrupt_copy, shared_midi_files

    (tmp_path / "text.mid").write_text("not a MIDI file at all")
    (tmp_path / "header.mid").write_bytes(b"MThd\0\0\0\x06\0\x07\0\x01\x01\xe0")  # format 7
    files = [
        corrupt_copy(PACKAGED["short"], tmp_path / "cut.mid"),
        tmp_path / "text.mid",
        tmp_path / "header.mid",
    ]
    files += [p for p in shared_midi_files() if p.name in CORRUPT]  # ../shared/midi's, where present
    sid = session(client)
    for path in files:
        r = client.post(f"/api/sessions/{sid}/primer", files={"file": (path.name, path.read_bytes())})
        assert r.status_code == 400 and "\n" not in r.json()["detail"], (path.name, r.text)
    assert client.get(f"/api/sessions/{sid}").json()["nodes"] == []
    good = client.post(f"/api/sessions/{sid}/primer", files={"file": ("ok.mid", primer_midi())})
    assert good.status_code == 201  # the isolated reader survived them all


def test_a_model_with_a_critic_reranks_its_candidates(tmp_path, musenet_home):
    from musenet.critic.config import CriticConfig
    from musenet.critic.model import Critic
    from musenet.critic.store import save_critic

    folder = save_random_model(tmp_path / "with-critic")
    torch.manual_seed(1)
    save_critic(
        folder, Critic(CriticConfig(vocab_size=VOCAB.size, tokens=64, n_embd=32)), {"note": "untrained"}
    )
    with_critic = load(folder)
    assert with_critic.has_critic
    c, service = make_client(with_critic, musenet_home / "web-critic", rerank=3)
    with c:
        sid = session(c)
        job = finish(c, c.post(f"/api/sessions/{sid}/generate", json=SMALL).json())
        assert job["status"] == "done", job
        scores = [n["critic"] for n in job["nodes"]]
        assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)
    service.close()
    with pytest.raises(ValueError, match="rerank"):
        ServeConfig(rerank=0)
