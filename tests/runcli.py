"""Running `musenet` in tests, and the one check of a user error: exit code 2, one line on stderr, no traceback.

`main(...)` runs the command in this process through `musenet.cli.main` (fast: no interpreter start, no imports
again), for error cases and quick commands; `subprocess(...)` runs `python -m musenet` for real, where the entry
point, the process's exit or its pipes are what is tested.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess as sp
import sys
from dataclasses import dataclass

from musenet.cli import main as musenet_main


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def main(*args) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = musenet_main([str(a) for a in args])
        except SystemExit as e:  # argparse: --help (0) or a usage error (2)
            code = e.code if isinstance(e.code, int) else 1
    return Result(code, out.getvalue(), err.getvalue())


def subprocess(*args, env: dict | None = None, cwd=None, timeout: float = 300) -> Result:
    r = sp.run(
        [sys.executable, "-m", "musenet", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
    )
    return Result(r.returncode, r.stdout, r.stderr)


def assert_user_error(r: Result, *words: str) -> None:
    assert r.returncode == 2, r
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
