"""The `musenet` command: one subcommand per module, imported only when used (so `musenet vocab` stays light).

Each command module exposes `add_arguments(parser)` and `run(args) -> int`; its one-line help is in `COMMANDS`.
Flags that set a config dataclass's fields are derived from it (`musenet.options`). User errors (`UserError`,
`MidiError`, bad flags) print one line on stderr and exit with code 2; no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from .errors import MidiError, UserError
from .options import flag_words

# name -> ("module" or "module:object" holding add_arguments and run, one-line help), in `musenet --help` order.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": (
        "musenet.generate.cli",
        "compose music from scratch or continuing a MIDI primer -> MIDI + WAV",
    ),
    "infill": (
        "musenet.generate.cli:Infill",
        "regenerate a span of a MIDI file (some or all instruments), keeping the rest note for note",
    ),
    "styles": ("musenet.generate.cli:Styles", "list the styles a model knows"),
    "instruments": ("musenet.generate.cli:Instruments", "list the instruments a model can play"),
    "vocab": ("musenet.commands.vocab", "print the token vocabulary's layout"),
    "tokens": ("musenet.commands.tokens", "encode a MIDI file into MuseNet tokens (and optionally back)"),
    "data": ("musenet.data.cli", "build and inspect training data"),
    "train": ("musenet.train.cli", "train a model on a built dataset"),
    "train-critic": ("musenet.critic.cli", "train a critic for reranking: real vs generated, or the style"),
    "export": (
        "musenet.commands.export",
        "export a training run's model for generation (bf16, sampling defaults)",
    ),
    "render": ("musenet.commands.render", "render a MIDI file to WAV through a General MIDI SoundFont"),
    "evaluate": (
        "musenet.evaluate.cli",
        "measure a model: likelihood, music statistics, style, memorisation",
    ),
    "serve": ("musenet.web.cli", "run the web co-composer"),
    "text": ("musenet.text.cli", "continue a text prompt with a released GPT-2 checkpoint"),
}


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that says where to look."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")
        raise SystemExit(2)


def _top_help() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = ["usage: musenet COMMAND [options]", "", "An open, local MuseNet.", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "Run `musenet COMMAND --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_top_help())
        return 0
    if argv[0] == "--version":
        from . import __version__

        print(f"musenet {__version__}")
        return 0
    name = argv[0]
    if name not in COMMANDS:
        sys.stderr.write(f"musenet: error: unknown command {name!r}; commands: {', '.join(COMMANDS)}\n")
        return 2
    target, _, attr = COMMANDS[name][0].partition(":")
    module = importlib.import_module(target)
    if attr:
        module = getattr(module, attr)
    parser = Parser(prog=f"musenet {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except (UserError, MidiError) as e:
        sys.stderr.write(f"musenet {name}: error: {flag_words(str(e), parser)}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"musenet {name}: interrupted\n")
        return 130
    except BrokenPipeError:
        # the reader went away (`musenet tokens x.mid | head`): not an error; silence the flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as e:  # a file or folder the command cannot read or write: the path and the reason
        path = e.filename2 or e.filename  # os.replace(temp, path): the path the user named
        where = f" {path}" if path else ""
        sys.stderr.write(f"musenet {name}: error: cannot use{where}: {e.strerror or e}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
