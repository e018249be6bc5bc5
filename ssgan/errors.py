"""User-facing errors.

Anything the user can fix (a bad option, missing data, a corrupt checkpoint) raises
:class:`SSGANError`. The command-line entry points turn it into one line on stderr and
exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations


class SSGANError(ValueError):
    """A problem with the user's input, explained in one line."""


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Reject zero/negative sizes and rates with a one-line message."""
    if value is None:
        return
    if value < 0 or (value == 0 and not allow_zero):
        accepted = "a number >= 0" if allow_zero else "a number > 0"
        raise SSGANError(f"{name} must be {accepted}, got {value!r}")


def check_choice(kind: str, value: str, choices) -> None:
    """Reject an unknown registry name, listing the valid ones."""
    if value not in choices:
        raise SSGANError(f"unknown {kind} {value!r}; choose one of: {', '.join(sorted(choices))}")
