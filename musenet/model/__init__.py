"""The model: a GPT-2 with MuseNet's embeddings (gpt), its config, and its checkpoint format.

Imports neither `musenet.codec` nor `musenet.data`: the model sees token ids and positions only.
"""

from musenet.model.config import PRESETS, GPTConfig
from musenet.model.gpt import GPT, KVCache, Positions

__all__ = ["GPT", "GPTConfig", "KVCache", "PRESETS", "Positions"]
