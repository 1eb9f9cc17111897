"""The model: a GPT-2 with MuseNet's embeddings (gpt), its fast decode step (decode), its config, and its checkpoint
format.

Imports neither `musenet.codec` nor `musenet.data`: the model sees token ids and positions only.
"""

from musenet.model.config import PRESETS, GPTConfig
from musenet.model.decode import Decoder
from musenet.model.gpt import GPT, KVCache, Positions

__all__ = ["Decoder", "GPT", "GPTConfig", "KVCache", "PRESETS", "Positions"]
