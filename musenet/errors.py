"""User-facing errors: raised for bad input, shown by the CLI as one line with exit code 2 (no traceback)."""


class UserError(Exception):
    """Something the user can fix: a wrong flag, a missing file, an unknown style. The message says what to do."""
