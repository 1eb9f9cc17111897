"""musenet: an open, local MuseNet.

import musenet
composer = musenet.load()          # the shipped default model (or a run folder / model name)
pieces = composer.generate(style="bach", instruments=["piano", "violin"], seconds=30, candidates=4, seed=1)
"""

__version__ = "0.1.0"


def load(name_or_path=None, device: str = "cpu"):
    """A `Composer` for a model folder, a name under $MUSENET_HOME/models, or (None) the shipped default; with the
    critic in its folder, if any, for reranking (`generate(rerank=N)`)."""
    from .critic.store import CRITICS  # torch is imported only when a model is loaded
    from .generate.composer import load as _load

    return _load(name_or_path, device=device, scorers=CRITICS)
