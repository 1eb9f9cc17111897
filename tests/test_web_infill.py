"""Regenerate span over HTTP: a node's span redone by the real `Composer.infill` of a small random model whose
vocabulary has the infilling tokens, its candidates stored as the node's children; every bad request a one-line
4xx that stores nothing; a model that never learned infilling (no infill tokens, like the shipped v0.2) says so."""

from collections import Counter

import pytest
from test_web_api import VOCAB, finish, make_client, one_line_error, primer_midi, save_random_model, session

from musenet.codec.vocab import Vocab, VocabConfig
from musenet.generate.composer import load

SPAN = {"start": 1.0, "end": 2.5, "candidates": 2, "seed": 5}


def save_infill_model(path):
    """A model with the infill tokens, trained (it claims) with style dropout: it also takes style guidance."""
    assert VOCAB.config.infill  # the default vocabulary has the infill tokens
    return save_random_model(path, VOCAB, train={"style_dropout": 0.15})


def save_plain_model(path):
    """A model that never learned infilling: its vocabulary predates the infill tokens."""
    return save_random_model(path, Vocab(VocabConfig(infill=False)))


@pytest.fixture(scope="module")
def infiller(tmp_path_factory):
    return load(save_infill_model(tmp_path_factory.mktemp("infill-model")))


@pytest.fixture
def client(infiller, musenet_home):
    c, service = make_client(infiller, musenet_home / "web")
    with c:
        yield c
    service.close()


def primer(client, sid: str, seconds=4.0) -> dict:
    r = client.post(f"/api/sessions/{sid}/primer", files={"file": ("tune.mid", primer_midi(seconds))})
    assert r.status_code == 201, r.text
    return r.json()


def notes_of(client, sid: str, nid: str) -> list[tuple]:
    return [tuple(n) for n in client.get(f"/api/sessions/{sid}/nodes/{nid}").json()["notes"]]


def outside(notes: list[tuple], start: float, end: float) -> Counter:
    """The notes that neither sound in nor cross the span: what a candidate must keep note for note."""
    return Counter(n for n in notes if n[1] <= start or n[0] >= end)


def test_info_says_the_model_can_regenerate_a_span(client):
    infill = client.get("/api/info").json()["infill"]
    assert infill["available"] is True and infill["reason"] is None and infill["max_seconds"] > 0
    assert "/api/sessions/{sid}/nodes/{nid}/infill" in client.get("/openapi.json").json()["paths"]


def test_regenerate_a_span_adds_children_that_keep_the_rest(client):
    sid = session(client)
    node = primer(client, sid)
    r = client.post(f"/api/sessions/{sid}/nodes/{node['id']}/infill", json=SPAN)
    assert r.status_code == 202, r.text
    job = finish(client, r.json())
    assert job["status"] == "done", job
    kids = job["nodes"]
    assert [k["candidate"] for k in kids] == [1, 2] and {k["parent"] for k in kids} == {node["id"]}
    assert all(k["kind"] == "infill" and k["span"] == [1.0, 2.5] and k["seed"] == 5 for k in kids)
    assert all(k["span_instruments"] is None and k["primer_seconds"] == 0 for k in kids)
    before = notes_of(client, sid, node["id"])
    for k in kids:
        after = notes_of(client, sid, k["id"])
        assert outside(after, 1.0, 2.5) == outside(before, 1.0, 2.5)  # the untouched music, note for note
        assert Counter(after) != Counter(before)  # and the span was redone
        assert client.get(f"/api/sessions/{sid}/nodes/{k['id']}/wav").content[:4] == b"RIFF"
        assert client.get(f"/api/sessions/{sid}/nodes/{k['id']}").json()["span"] == [1.0, 2.5]
    tree = client.get(f"/api/sessions/{sid}").json()["nodes"]
    assert [n["id"] for n in tree] == [node["id"]] + [k["id"] for k in kids]

    # redo only the violin in a span of a candidate: the piano there is kept, only violin notes are new
    r = client.post(
        f"/api/sessions/{sid}/nodes/{kids[0]['id']}/infill",
        json=SPAN | {"instruments": ["violin"], "candidates": 1},
    )
    (grandchild,) = finish(client, r.json())["nodes"]
    assert grandchild["parent"] == kids[0]["id"] and grandchild["span_instruments"] == ["violin"]
    violin = VOCAB.config.instruments.index(next(i for i in VOCAB.config.instruments if i.name == "violin"))
    parent_notes, new_notes = (
        Counter(notes_of(client, sid, kids[0]["id"])),
        Counter(notes_of(client, sid, grandchild["id"])),
    )
    assert not parent_notes - new_notes  # nothing of the parent's piano is lost
    assert new_notes - parent_notes and all(n[4] == violin for n in new_notes - parent_notes)


@pytest.mark.parametrize(
    "change, status, words",
    [
        ({"start": -1.0}, 400, "start must be >= 0"),
        ({"end": 60.0}, 400, "outside the piece"),
        ({"start": 2.0, "end": 2.0}, 400, "must come after its start"),
        ({"start": 2.5, "end": 1.0}, 400, "must come after its start"),
        ({"instruments": ["kazoo"]}, 400, "unknown instrument 'kazoo'"),
        ({"instruments": []}, 400, "at least one instrument"),
        ({"end": 1e300}, 400, "at most 120 s"),
        ({"instruments": ["x" * 5000]}, 400, "unknown instrument 'xxx"),
        ({"candidates": 9}, 400, "candidates must be 1..8"),
        ({"candidates": 0}, 422, "candidates"),
        ({"temperature": 1e-4}, 400, "temperature"),
        ({"temperature": 1000}, 422, "temperature"),
        ({"top_k": -1}, 422, "top_k"),
        ({"top_p": 2}, 422, "top_p"),
        ({"start": "soon"}, 422, "start"),
        ({"seed": -1}, 422, "seed"),
    ],
)
def test_bad_spans_are_one_line_errors_that_store_nothing(client, change, status, words):
    sid = session(client)
    node = primer(client, sid)
    r = client.post(f"/api/sessions/{sid}/nodes/{node['id']}/infill", json=SPAN | change)
    one_line_error(r, status, words)
    assert len(r.json()["detail"]) < 600  # what was sent is quoted a few dozen characters at most
    assert [n["id"] for n in client.get(f"/api/sessions/{sid}").json()["nodes"]] == [node["id"]]
    assert client.get("/api/info").json()["queue"]["waiting"] == 0


def test_a_span_that_is_not_a_number_is_refused(client):
    sid = session(client)
    node = primer(client, sid)
    body = '{"start": NaN, "end": 2.5}'  # Python's JSON reader takes NaN; the span must still be a number
    r = client.post(f"/api/sessions/{sid}/nodes/{node['id']}/infill", content=body,
                    headers={"content-type": "application/json"})  # fmt: skip
    one_line_error(r, 400, "numbers of seconds")


def test_a_span_longer_than_the_model_can_see_is_refused(client):
    sid = session(client)
    node = primer(client, sid, seconds=60.0)
    r = client.post(f"/api/sessions/{sid}/nodes/{node['id']}/infill", json=SPAN | {"start": 0.0, "end": 59.0})
    one_line_error(r, 400, "longer than the model can see")
    assert len(client.get(f"/api/sessions/{sid}").json()["nodes"]) == 1


def test_unknown_nodes_and_other_sessions_nodes_are_404(client):
    a, b = session(client), session(client)
    node = primer(client, a)
    for sid, nid in ((b, node["id"]), (a, "nope")):
        one_line_error(client.post(f"/api/sessions/{sid}/nodes/{nid}/infill", json=SPAN), 404, "unknown node")


def test_an_infill_job_is_read_and_cancelled_within_its_session_only(client):
    mine, other = session(client), session(client)
    node = primer(client, mine)
    job = client.post(f"/api/sessions/{mine}/nodes/{node['id']}/infill", json=SPAN).json()
    assert job["session"] == mine
    one_line_error(client.get(f"/api/sessions/{other}/jobs/{job['job']}"), 404, "unknown or expired job")
    one_line_error(client.delete(f"/api/sessions/{other}/jobs/{job['job']}"), 404, "unknown or expired job")
    assert finish(client, job)["status"] == "done"


def test_an_infill_that_would_pass_the_store_cap_stores_nothing(client, musenet_home):
    service = client.app.state.service
    sid = session(client)
    node = primer(client, sid)
    before = service.store.total_bytes
    service.store.max_bytes = before + 2000  # room for a candidate's MIDI, not its WAV
    job = finish(client, client.post(f"/api/sessions/{sid}/nodes/{node['id']}/infill", json=SPAN).json())
    assert job["status"] == "error" and "storage is full" in job["error"]
    assert [n["id"] for n in client.get(f"/api/sessions/{sid}").json()["nodes"]] == [node["id"]]
    on_disk = sum(p.stat().st_size for p in (musenet_home / "web").rglob("*") if p.is_file())
    assert on_disk == service.store.total_bytes == before <= service.store.max_bytes


def test_a_model_that_never_learned_infilling_says_so(tmp_path, musenet_home):
    plain = load(save_plain_model(tmp_path / "plain"))
    c, service = make_client(plain, musenet_home / "web-plain")
    with c:
        infill = c.get("/api/info").json()["infill"]
        assert infill["available"] is False and "never learned infilling" in infill["reason"]
        sid = session(c)
        node = primer(c, sid)
        r = c.post(f"/api/sessions/{sid}/nodes/{node['id']}/infill", json=SPAN)
        one_line_error(r, 400, "never learned")
        assert len(c.get(f"/api/sessions/{sid}").json()["nodes"]) == 1
    service.close()
