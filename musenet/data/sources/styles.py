"""Which style token each collection's own label becomes: one table, `GROUPS`.

Every collection labels its music its own way: a composer column (piano-midi.de's `metadata.csv`), a folder per
composer (OpenScore), a genre column (Groove's `info.csv`: `afrocuban`, `neworleans`), a style file (MMA's
`bossanova.mma`), a title (Simutrans' "Stephenson blues"). `style_of(label)` turns such a raw label into a style
of the vocabulary (`codec.vocab.DEFAULT_STYLES`): the name a user would type ("chopin", "latin", "funk").

A label gets its own token when the collections hold enough of it to learn (>= 50 k tokens in the default
data, measured: see `musenet/data/README.md`); a smaller composer joins their era (baroque, classical, romantic,
modern), a smaller genre its family (`afrocuban` -> latin, `punk` -> rock). Labels that already are a style map
to themselves; anything unknown is `unknown`, so a new collection never breaks a build (the recipe checks that
nothing it builds lands there).
"""

from __future__ import annotations

import re
import unicodedata

from ...codec.vocab import DEFAULT_STYLES


def _join(style: str, names: str) -> dict[str, str]:
    """Each of the space-separated `names` -> `style`."""
    return dict.fromkeys(names.split(), style)


# raw label (lower case ASCII: a surname, `surname_first_names` where a surname is shared, or a genre word)
#   -> style. Composers with their own token are listed too when their label differs from the style name.
GROUPS: dict[str, str] = {
    # ---- composers who join their era (too little data for a token of their own) ----
    **_join("classical", "arne boccherini cherubini hoffmeister paradis saint-georges shield"),
    **_join(
        "romantic",
        "abbott abrams balakirev barnard barnby beach berlioz bianchi_lacy bishop bizet bonis borodin boulton "
        "browne burgmueller burleigh cellier chabrier chaminade chausson coleridge-taylor corder cornelius "
        "cowen davies dickson duchambge elgar faisst farrenc faure ferrari flegier franz freer gabriel gail "
        "gambarini german glazunov glinka godowsky gonzaga gounod granados grandval gray greger guest "
        "hardelot hensel hodges holmes hopekirk horrocks jacobs-bond jaell kalliwoda kinkel kralik lang "
        "le_beau lehmann leoncavallo lindsay mackenzie mahler marshall massenet mayer moszkowski "
        "mounsey_bartholomew munktell mussorgsky netzel paladilhe parratt parry phillips philp puget reger "
        "reichardt rossini schroter schumann_clara sinding smyth somervell stanford strauss sullivan "
        "tchaikovsky tegner thys tosti verdi viardot wagner white wolf wood zumsteeg",
    ),
    **_join(
        "modern",
        "bantock berg boulanger bridge busoni butterworth delius faltis gurney ives maier moeran nielsen "
        "obradors poldowski quilter ravel rootham satie schoenberg schulhoff warlock webern zemlinsky",
    ),
    "joplin": "ragtime",
    "liliuokalani": "world",
    "christmas": "hymn",  # piano-midi.de's carols
    "schumann_robert": "schumann",
    # ---- Groove MIDI's styles ----
    "punk": "rock",
    "neworleans": "jazz",
    "afrocuban": "latin",
    "gospel": "soul",
    "afrobeat": "funk",
    "hiphop": "funk",  # Groove's hip-hop beats: 31 k tokens, under the 50 k a token needs
    "dance": "electronic",
    "highlife": "world",
    "middleeastern": "world",
    # ---- words in titles and MMA's style families ----
    "swing": "jazz",
    "bigband": "jazz",
    "bebop": "jazz",
    "dixie": "jazz",
    "bossanova": "latin",
    "samba": "latin",
    "salsa": "latin",
    "tango": "latin",
    "rumba": "latin",
    "boogie": "blues",
    "bluegrass": "country",
    "ska": "reggae",
    "techno": "electronic",
    "house": "electronic",
    "trance": "electronic",
    "disco": "pop",
    "ballad": "pop",
    "broadway": "film",
    "showtune": "film",
    "polka": "march",
    "spiritual": "soul",
    "rnb": "soul",
    "folk": "american_folk",
}


CONCERT_STYLES: tuple[str, ...] = (
    "bach", "baroque", "classical", "mozart", "haydn", "beethoven", "romantic", "schumann", "modern", "chopin",
    "schubert", "brahms", "liszt", "mendelssohn", "debussy", "rachmaninoff", "grieg", "clementi", "albeniz",
)  # fmt: skip
"""The composer and era styles of concert music: their solo-piano pieces are piano music too (the training
option `piano_alias`, `data.dataset.WindowDataset`, lets a share of them stand for the `piano` style)."""


ERAS: dict[str, tuple[str, ...]] = {
    "renaissance": ("renaissance", "palestrina", "monteverdi"),
    "baroque": ("baroque", "bach"),
    "classical": ("classical", "mozart", "haydn", "beethoven", "clementi"),
    "romantic": (
        "romantic", "schumann", "chopin", "schubert", "brahms", "liszt", "mendelssohn", "rachmaninoff", "grieg",
        "albeniz",
    ),
    "modern": ("modern", "debussy"),
}  # fmt: skip
"""The era each concert-music style belongs to: the era's own token (a composer with too little data for a token
of their own, `GROUPS`) and the composers with one. Evaluation reads style recognition at this level too: a
`romantic` request heard as Schubert is recognisably romantic."""

_ERA_OF = {s: era for era, members in ERAS.items() for s in members}


def era_of(style: str) -> str:
    """The era of a concert-music style (`ERAS`); any other style is its own."""
    return _ERA_OF.get(style, style)


def label(text: str) -> str:
    """A raw label in the table's form: lower-case ASCII, accents stripped, `,` and spaces as `_`."""
    ascii_ = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[\s,_]+", "_", ascii_.strip().lower()).strip("_")


def style_of(raw: str, styles: tuple[str, ...] = DEFAULT_STYLES) -> str:
    """The style for a raw label: the table's entry for the whole label (`schumann_clara`), else for the part
    before its comma (a surname: `le_beau` for `Le_Beau,_Luise_Adolpha`), else for its first word, else the
    label itself when it is a style; else `unknown`."""
    key = label(raw)
    for k in (key, label(raw.split(",")[0]), key.split("_")[0]):
        if k in GROUPS:
            return GROUPS[k]
        if k in styles:
            return k
    return "unknown"
