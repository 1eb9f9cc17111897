"""`musenet text`: continue a text prompt with a released GPT-2 checkpoint, streamed to the terminal."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..options import add_flags, from_args
from .engine import TextConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        required=True,
        metavar="DIR",
        help="a Hugging Face GPT-2 folder: config.json, model.safetensors or pytorch_model.bin, "
        "tokenizer.json or vocab.json + merges.txt (see musenet/text/README.md)",
    )
    parser.add_argument(
        "--prompt",
        default="",
        metavar="TEXT",
        help="the text to continue (default: none, an unconditional sample)",
    )
    add_flags(parser, TextConfig)


def run(args: argparse.Namespace) -> int:
    from .api import load

    cfg = from_args(TextConfig, args)
    tm = load(args.model)
    n_prompt, block = len(tm.prompt_ids(args.prompt)), tm.model.config.block_size  # a bad prompt fails first
    sys.stderr.write(f"loaded {tm.path} ({tm.describe()}) in {tm.load_seconds:.1f} s\n")
    if n_prompt > block:
        sys.stderr.write(f"the prompt is {n_prompt} tokens; the model sees its last {block}\n")
    out = sys.stdout
    if (out.encoding or "").lower().replace("-", "") != "utf8" and hasattr(out, "reconfigure"):
        out.reconfigure(errors="replace")  # a terminal that cannot show a character gets '?', not a crash
    t0 = time.monotonic()
    if cfg.candidates == 1:  # streamed as the tokens come
        out.write(args.prompt)
        out.flush()
        try:
            for (piece,) in tm.stream(args.prompt, cfg):
                out.write(piece)
                out.flush()
        except KeyboardInterrupt:  # Ctrl-C ends the text; the shell prompt goes on a line of its own
            out.write("\n")
            raise
        out.write("\n")
    else:
        for i, text in enumerate(tm.complete(args.prompt, cfg), 1):
            out.write(f"=== candidate {i} ===\n{args.prompt}{text}\n")
    out.flush()
    sys.stderr.write(f"{time.monotonic() - t0:.1f} s to generate\n")
    return 0
