"""Text mode: a released GPT-2 checkpoint (a Hugging Face folder) run by our own GPT and sampler.

MuseNet is GPT-2 trained on music; this package shows the same engine completing English with the weights OpenAI
released. The layers stay apart: `folder` finds and checks the files, `weights` builds the model, `tokenizer`
turns text into ids and ids back into text (bytes first, so streaming never splits a character), `engine` samples
ids with a KV cache and knows no text, `api` joins them and `cli` is `musenet text`.
"""

from .api import TextModel, load

__all__ = ["TextModel", "load"]
