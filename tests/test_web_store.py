"""The session store: unguessable ids, files only under its root, least recently used sessions evicted past a cap."""

import numpy as np
import pytest

from musenet.codec.events import Piece, make_notes
from musenet.web.store import NotFound, Store


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


def test_the_least_recently_used_sessions_go_first(tmp_path):
    store = Store(tmp_path / "web", max_bytes=10**9, max_sessions=10)
    old, mid, new = (store.create() for _ in range(3))
    for s in (old, mid, new):
        store.add(s.id, None, "candidate", "x", piece(), {})
    store.session(old.id)  # used again: now the most recent
    one = mid.bytes
    store.max_bytes = store.total_bytes - one  # room for all but one session
    store.enforce_cap(keep=new.id)
    with pytest.raises(NotFound, match="expired"):
        store.session(mid.id)
    assert not mid.folder.exists()
    assert store.session(old.id) and store.session(new.id)


def test_a_session_count_cap_and_a_clean_start(tmp_path):
    store = Store(tmp_path / "web", max_bytes=10**9, max_sessions=2)
    first = store.create()
    store.create(), store.create()
    assert len(store) == 2
    with pytest.raises(NotFound):
        store.session(first.id)
    (tmp_path / "web" / "stale.wav").write_bytes(b"x")
    Store(
        tmp_path / "web", max_bytes=1, max_sessions=1
    )  # a new run: the old run's files are unreachable, so gone
    assert list((tmp_path / "web").iterdir()) == []
