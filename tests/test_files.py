"""$MUSENET_HOME resolved once, and the atomic write every file of musenet goes through."""

import pytest

from musenet import files


def test_home_expands_the_user_and_defaults_to_dot_musenet(monkeypatch, tmp_path):
    monkeypatch.setenv("MUSENET_HOME", "~/elsewhere")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert files.home() == tmp_path / "elsewhere"
    monkeypatch.delenv("MUSENET_HOME")
    assert files.home() == tmp_path / ".musenet"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "x.txt"
    files.write_text(path, "old")
    with pytest.raises(RuntimeError), files.atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]
    files.write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]
