"""`musenet vocab`: print the vocabulary's layout (or its config as JSON)."""

from __future__ import annotations

import argparse
import json

from ..codec.vocab import Vocab


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the vocabulary config as JSON instead")


def run(args: argparse.Namespace) -> int:
    vocab = Vocab()
    vocab.check()
    print(json.dumps(vocab.config.to_dict(), indent=1) if args.json else vocab.layout())
    return 0
