"""Accompaniment in many genres rendered by MMA (Musical MIDI Accompaniment) from chord charts we write.

MMA (Debian's `mma`) turns a chord chart (`Tempo`, `Groove NAME`, one line of chords per bar) into General MIDI
with drums, bass, guitar, piano and more, in the patterns of its groove library. Its `stdlib` holds ~120 style
files by MMA's author (the `casio`, `yamaha` and `zoom` sets are conversions of commercial presets: not used).

For each family of style files in `FAMILIES` we render `per_family` charts (twice that for the band-heavy
families in `WEIGHT`; `plan`), spread over its files: a seeded RNG (`random.Random("file:k")`) picks a
key, a tempo in the family's range, 32 bars of chords from the family's progressions, and two of the file's
grooves (bars 1-16 and 17-32); `RndSeed` makes MMA's own humanising repeatable, so the same inputs give the same
MIDI. The renders are loops of accompaniment without a melody, so the recipe keeps them to a modest share of the
tokens (`renders` per file). Labels: the file's family (`bossanova.mma` -> `bossanova`), grouped into a style by
`styles.GROUPS` (`bossanova` -> latin).
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...errors import UserError

LIBRARY = Path("/usr/share/mma/lib/stdlib")

# style file -> family (a raw label for `styles.style_of`); files not listed are not rendered (metronomes,
# `none`, bare arpeggios, plain waltzes: no genre a user would ask for)
FAMILIES: dict[str, str] = {
    **dict.fromkeys(
        ("50srock", "60srock", "8beat", "basicrock", "bubblerock", "folkrock", "rock-128", "rockballad",
         "rockwaltz", "softrock", "twist"),
        "rock",
    ),
    **dict.fromkeys(
        ("68swing", "bebop", "bigband", "descendingjazz", "dixie", "easyswing", "evansish", "fastjazzwaltz",
         "fastswing", "folkyjazz", "gypsyjazz", "jazz-54", "jazzcombo", "jazzguitar", "jazzrock", "jazzwaltz",
         "mellowjazz", "modernjazz", "modernjazzwaltz", "nitejazz", "slowjazz", "swing", "charleston",
         "softshoe", "strut", "jive", "dixiemarch", "foxtrot", "quickstep"),
        "jazz",
    ),
    **dict.fromkeys(
        ("afro-cuban", "beguine", "bolero", "bossanova", "calypso", "chacha", "cubanguitar", "jazzrhumba",
         "latinwaltz", "lfusion", "lighttango", "mambo", "merengue", "rhumba", "salsa", "samba", "slowbolero",
         "son", "tango"),
        "latin",
    ),
    **dict.fromkeys(
        ("blues", "blues128", "blues68", "boggiewoggie", "fastblues", "slowblues", "shuffleboggie",
         "countryblues", "bluefolk"),
        "blues",
    ),
    **dict.fromkeys(
        ("bluegrass", "countryswing", "countrywaltz", "hillcountry", "slowcountry", "westernswing", "zydeco"),
        "country",
    ),
    **dict.fromkeys(("folk", "folkballad"), "folk"),
    "bvfunk": "funk",
    **dict.fromkeys(("dsoul", "rb", "rb-ballad", "popspiritual", "spiritual", "slowspiritual"), "soul"),
    **dict.fromkeys(
        ("ballad", "ballad128", "ballad68", "popballad", "pianoballad", "guitarballad", "stringballad",
         "boneym", "lullaby"),
        "pop",
    ),
    **dict.fromkeys(("broadway", "broadwaywaltz", "showtune", "slowbroadway"), "broadway"),
    **dict.fromkeys(("68march", "bwmarch", "march", "polka"), "march"),
    **dict.fromkeys(("trance", "desert"), "electronic"),
    "ska": "reggae",
}  # fmt: skip

# families whose renders are mostly band (drums, bass, guitar: 54-88 % of their note tokens, measured) get twice the
# renders of the others (jazz 50 %, electronic 45 %, march 30 %, broadway 23 %): the corpus's band share (>= 15 %
# of note tokens) comes from here and Groove; MMA's piano-and-organ files (hymn, ragtime) are not rendered at all
WEIGHT = dict.fromkeys(("rock", "funk", "country", "folk", "latin", "pop", "soul", "blues", "reggae"), 2)

# tempo range (quarter notes a minute) by family; ballads and slow files are slowed further by their name
TEMPO = {
    "jazz": (100, 220),
    "blues": (70, 140),
    "latin": (90, 180),
    "march": (100, 130),
    "electronic": (120, 140),
}
DEFAULT_TEMPO = (80, 160)

# progressions as roman numerals over a key (lower case: minor; suffixes as MMA writes chords)
PROGRESSIONS: dict[str, list[list[str]]] = {
    "jazz": [["ii7", "V7", "Imaj7", "Imaj7"], ["Imaj7", "vi7", "ii7", "V7"], ["iii7", "VI7", "ii7", "V7"],
             ["Imaj7", "IV7", "iii7", "VI7"], ["iim7b5", "V7", "i6", "i6"]],
    "blues": [["I7", "I7", "I7", "I7"], ["IV7", "IV7", "I7", "I7"], ["V7", "IV7", "I7", "V7"]],
    "latin": [["i", "iv", "V7", "i"], ["ii7", "V7", "Imaj7", "Imaj7"], ["i", "bVII", "bVI", "V7"],
              ["I", "IV", "V7", "I"]],
    "default": [["I", "V", "vi", "IV"], ["I", "IV", "V", "IV"], ["vi", "IV", "I", "V"], ["I", "bVII", "IV", "I"],
                ["I", "vi", "IV", "V7"], ["I", "iii", "IV", "V"]],
}  # fmt: skip
NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
NUMERALS = {"i": 0, "ii": 2, "iii": 4, "iv": 5, "v": 7, "vi": 9, "vii": 11}
BARS = 32


def chord(numeral: str, key: int) -> str:
    """`ii7` in D -> `Em7`; `bVII` in C -> `Bb`; `Imaj7` in F -> `Fmaj7`."""
    m = re.fullmatch(r"(b?)(vii|VII|iii|III|ii|II|iv|IV|vi|VI|v|V|i|I)(maj7|m7b5|m7|7|6)?", numeral)
    if m is None:
        raise ValueError(f"bad roman numeral {numeral!r}")
    flat, roman, suffix = m.group(1), m.group(2), m.group(3) or ""
    root = NOTE_NAMES[(key + NUMERALS[roman.lower()] - (1 if flat else 0)) % 12]
    minor = roman.islower() and not suffix.startswith("m")
    return root + ("m" if minor else "") + suffix


def grooves(style_file: Path) -> list[str]:
    """The grooves a style file defines, without its intros, endings, fills and breaks."""
    names = re.findall(
        r"^\s*DefGroove\s+(\S+)", style_file.read_text(encoding="utf-8", errors="replace"), re.M
    )
    return [g for g in names if not re.search(r"intro|end|fill|break", g, re.I)]


def chart(stem: str, family: str, names: list[str], k: int) -> str:
    """The k-th chord chart for a style file: seeded by (file, k), so it is the same on every machine."""
    rng = random.Random(f"{stem}:{k}")
    key = rng.randrange(12)
    low, high = TEMPO.get(family, DEFAULT_TEMPO)
    if re.search(r"ballad|slow|lullaby", stem):
        low, high = 60, 90
    pool = PROGRESSIONS.get(family, PROGRESSIONS["default"])
    first, second = rng.choice(names), rng.choice(names)
    lines = [f"// {stem} render {k}", f"RndSeed {rng.randrange(1, 2**31)}", f"Tempo {rng.randint(low, high)}"]
    bar = 1
    for half, groove in enumerate((first, second)):
        lines.append(f"Groove {groove}")
        while bar <= BARS // 2 * (half + 1):
            for numeral in rng.choice(pool):
                lines.append(f"{bar} {chord(numeral, key)}")
                bar += 1
    return "\n".join(lines) + "\n"


def render(charts: dict[str, str], out: Path, workers: int = 2, timeout_s: float = 60.0) -> list[Path]:
    """Runs `mma` on each chart (name -> text), writing `out/<name>.mid` and the chart beside it as `.mma`; a
    render whose chart is already there is kept; a chart MMA rejects is skipped. Returns the MIDI files."""
    exe = shutil.which("mma")
    if exe is None:
        raise UserError("mma is not installed: `apt-get install mma` (the data recipe installs it)")
    out = out.resolve()  # MMA runs in a temporary folder
    out.mkdir(parents=True, exist_ok=True)

    def one(item: tuple[str, str]) -> Path | None:
        name, text = item
        target = out / f"{name}.mid"
        chart_file = target.with_suffix(".mma")  # the chart beside its render: the record, and the cache key
        if target.is_file() and chart_file.is_file() and chart_file.read_text(encoding="utf-8") == text:
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "chart.mma"
            src.write_text(text, encoding="utf-8")
            try:
                subprocess.run(
                    [exe, "-f", str(target), str(src)],
                    cwd=tmp,
                    capture_output=True,
                    timeout=timeout_s,
                    check=True,
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                target.unlink(missing_ok=True)
                return None
        if not target.is_file():
            return None
        chart_file.write_text(text, encoding="utf-8")
        return target

    from tqdm import tqdm

    with ThreadPoolExecutor(max(1, workers)) as pool:
        done = tqdm(pool.map(one, sorted(charts.items())), total=len(charts), desc="mma", unit="chart")
        return [p for p in done if p is not None]


def plan(per_family: int, library: Path = LIBRARY) -> dict[str, int]:
    """Renders per style file: `per_family` for each family (times its `WEIGHT`), spread over its files (at least
    one each), and at most a quarter of it from one file, so a family of one file does not repeat one groove for
    its whole share."""
    stems = sorted(s for s in FAMILIES if (library / f"{s}.mma").is_file() and grooves(library / f"{s}.mma"))
    out = {}
    for family in sorted(set(FAMILIES.values())):
        members = [s for s in stems if FAMILIES[s] == family]
        n = per_family * WEIGHT.get(family, 1)
        for stem in members:
            out[stem] = max(1, min(-(-n // len(members)), n // 4))
    return out


def charts_for(plan: dict[str, int], library: Path = LIBRARY) -> dict[str, tuple[str, str]]:
    """name (`<family>/<file>-<k>`) -> (chart text, family) for every render of the plan."""
    out = {}
    for stem, n in sorted(plan.items()):
        family, names = FAMILIES[stem], grooves(library / f"{stem}.mma")
        for k in range(n):
            out[f"{family}/{stem}-{k:02d}"] = (chart(stem, family, names, k), family)
    return out
