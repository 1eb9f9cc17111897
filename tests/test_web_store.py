"""The session store: unguessable ids, files only under its root, caps that refuse rather than evict, sessions
removed only when idle."""

import numpy as np
import pytest

from musenet.codec.events import Piece, make_notes
from musenet.web.store import Full, NotFound, Store


def piece(n=8) -> Piece:
    t = np.arange(n) * 0.25
    return Piece(make_notes(t, t + 0.2, 60 + np.arange(n) % 12, 90, 0))


def test_nodes_form_a_tree_with_files_under_the_root(tmp_path):
    store = Store(tmp_path / "web", max_bytes=10**9, max_sessions=10)
    s = store.create()
    a = store.add(s.id, None, "candidate", "a", piece(), {})
    b = store.add(s.id, a.id, "candidate", "b", piece(), {})
    assert [(n["id"], n["parent"]) for n in store.tree(s.id)] == [(a.id, None), (b.id, a.id)]
    assert store.midi_path(s, b).is_file() and store.midi_path(s, b).parent.parent == tmp_path / "web"
    assert s.id not in str(store.midi_path(s, b))  # the session's folder is not named after its secret id
    assert store.total_bytes == sum(p.stat().st_size for p in s.folder.iterdir())
    with pytest.raises(NotFound):
        store.add(s.id, "no-such-parent", "candidate", "c", piece(), {})
    store.remove(s.id, [b.id])
    assert [n["id"] for n in store.tree(s.id)] == [a.id] and not store.midi_path(s, b).exists()


def test_ids_are_long_and_distinct(tmp_path):
    store = Store(tmp_path / "web", max_bytes=10**9, max_sessions=1000)
    ids = {store.create().id for _ in range(200)}
    assert len(ids) == 200 and min(map(len, ids)) >= 22


def test_a_session_goes_only_when_idle_and_the_caps_refuse_instead(tmp_path):
    store = Store(tmp_path / "web", max_bytes=10**9, max_sessions=3, idle_s=60)
    old, mid, new = (store.create() for _ in range(3))
    for s in (old, mid, new):
        store.add(s.id, None, "candidate", "x", piece(), {})
    with pytest.raises(Full, match="server is full") as e:
        store.create()
    assert e.value.status == 503 and 1 <= e.value.retry_after <= 60
    assert all(store.session(s.id) for s in (old, mid, new))  # nobody was evicted to make room
    mid.used -= 61  # idle past the limit: the next create may take its place
    assert store.create() and not mid.folder.exists()
    with pytest.raises(NotFound, match="expired"):
        store.session(mid.id)
    assert store.session(old.id) and store.session(new.id)


def test_the_byte_cap_is_checked_before_every_write(tmp_path):
    store = Store(tmp_path / "web", max_bytes=10**9, max_sessions=10, max_session_bytes=10**9)
    a = store.create()
    store.add(a.id, None, "candidate", "x", piece(), {})
    store.max_bytes = store.total_bytes + 10  # no room for another file
    b = store.create()
    with pytest.raises(Full, match="storage is full"):
        store.add(b.id, None, "candidate", "y", piece(), {})
    assert store.tree(b.id) == [] and list(b.folder.iterdir()) == [] and store.session(a.id)
    store.max_bytes, store.max_session_bytes = 10**9, store.total_bytes + 10
    with pytest.raises(Full, match="per session") as e:
        store.add(a.id, None, "candidate", "z", piece(), {})
    assert e.value.status == 413
    assert store.total_bytes == sum(p.stat().st_size for p in (tmp_path / "web").rglob("*") if p.is_file())


def test_one_client_cannot_take_every_session(tmp_path):
    store = Store(tmp_path / "web", max_bytes=10**9, max_sessions=100, per_client=3)
    mine = [store.create("10.0.0.1") for _ in range(3)]
    with pytest.raises(Full, match="from your address") as e:
        store.create("10.0.0.1")
    assert e.value.status == 429
    assert store.create("10.0.0.2") and all(store.session(s.id) for s in mine)


def test_a_clean_start(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "stale.wav").write_bytes(b"x")
    Store(
        tmp_path / "web", max_bytes=1, max_sessions=1
    )  # a new run: the old run's files are unreachable, so gone
    assert list((tmp_path / "web").iterdir()) == []
