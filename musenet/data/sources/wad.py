"""The MIDI tracks stored inside Doom WAD archives (Freedoom's and FreeDM's music).

A WAD is a 12-byte header (`IWAD` or `PWAD`, the number of lumps, the offset of the directory) and a directory
of 16-byte entries (offset, size, an 8-byte NUL-padded name) pointing at the lumps. Music lumps are named `D_*`
and hold either standard MIDI (they start with `MThd`) or id's own MUS format (`MUS\\x1a`); only the MIDI ones are
taken, since the codec reads standard MIDI. The archives are read as untrusted bytes: a directory that points
outside the file is an error, never a crash; nothing in them is executed.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

from ...errors import UserError

HEADER = struct.Struct("<4sii")
ENTRY = struct.Struct("<ii8s")
MIDI_MAGIC = b"MThd"


@dataclass(frozen=True)
class Lump:
    name: str
    """The lump's name (up to 8 ASCII characters), e.g. `D_E1M1`."""
    offset: int
    """Byte offset of the lump in the archive."""
    size: int
    """Size in bytes."""


def directory(data: bytes) -> list[Lump]:
    """The archive's directory, in file order; ValueError (one line) when `data` is not a sound WAD."""
    if len(data) < HEADER.size:
        raise ValueError(f"{len(data)} bytes: too short for a WAD header")
    magic, count, table = HEADER.unpack_from(data, 0)
    if magic not in (b"IWAD", b"PWAD"):
        raise ValueError(f"not a WAD archive (starts with {magic!r}, not IWAD or PWAD)")
    if count < 0 or table < HEADER.size or table + count * ENTRY.size > len(data):
        raise ValueError(f"corrupt WAD directory ({count} lumps at byte {table} of {len(data)})")
    lumps = []
    for k in range(count):
        offset, size, raw = ENTRY.unpack_from(data, table + k * ENTRY.size)
        name = raw.split(b"\0", 1)[0].decode("ascii", "replace")
        if size < 0 or offset < 0 or offset + size > len(data):
            raise ValueError(f"corrupt WAD directory: lump {name!r} lies outside the file")
        lumps.append(Lump(name, offset, size))
    return lumps


def midi_lumps(data: bytes) -> dict[str, bytes]:
    """name -> bytes of every lump that is a standard MIDI file (starts with `MThd`), first of each name."""
    out: dict[str, bytes] = {}
    for lump in directory(data):
        body = data[lump.offset : lump.offset + lump.size]
        if body.startswith(MIDI_MAGIC) and lump.name not in out:
            out[lump.name] = body
    return out


def extract(wads: list[Path], out: Path) -> list[Path]:
    """Writes the MIDI lumps of `wads` as `out/<wad stem>/<lump name>.mid`, each distinct track once.

    The same track appears under several names and in several archives (Freedoom's two episodes share music
    with FreeDM); it is written the first time it is met (archives in the order given, lumps in directory
    order). Returns the files written.
    """
    seen: set[str] = set()
    written = []
    for wad in wads:
        try:
            lumps = midi_lumps(wad.read_bytes())
        except (OSError, ValueError) as e:
            raise UserError(f"{wad}: {e}") from None
        for name, body in lumps.items():
            digest = hashlib.sha1(body).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            path = out / wad.stem / f"{name.lower()}.mid"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            written.append(path)
    return written
