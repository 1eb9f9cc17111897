"""User-facing errors: raised for bad input, shown by the CLI as one line with exit code 2 (no traceback) and by the
web app as a 4xx. A leaf module, imported by every layer (the codec included), so that no layer imports another
one's internals for an exception type."""


class UserError(Exception):
    """Something the user can fix: a wrong flag, a missing file, an unknown style. The message says what to do."""


class MidiError(ValueError):
    """A MIDI file that cannot or may not be loaded (`codec.safe`). The message is one line, fit to show a user."""
