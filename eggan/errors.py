"""User-facing errors: one line that names the file (or option) and the problem.

The CLI prints these without a traceback; anything else is a bug and keeps its traceback.
Warnings the user must see (a substitution that changes what a number means) are
``EgganWarning``s: the CLI prints each once, as one line, like an error.
"""

from __future__ import annotations

from pathlib import Path


class EgganError(Exception):
    """A problem with the user's input, reported as one line."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        text = message if self.path is None else f"{self.path}: {message}"
        super().__init__(" ".join(text.split()))


class DataError(EgganError):
    """A dataset file or folder that cannot be read as the suite expects."""


class CheckpointError(EgganError):
    """A checkpoint that is missing, corrupt, unsafe to unpickle, or made for another model."""


class ConfigError(EgganError):
    """An option or config value outside what the suite accepts."""


class MissingComponentError(EgganError):
    """A real component (weights, a binary, a dataset) that is not installed here."""


class OutputError(EgganError):
    """An output that cannot be written: read-only, full disk, a folder in the way, in use or taken."""


class Interrupted(EgganError):
    """Ctrl-C, handled: the message says where the run stopped and how to go on (exit status 130).
    Not a KeyboardInterrupt, which typer would turn into a silent exit."""


class EgganWarning(UserWarning):
    """A substitution the user must know about (a random VGG19 for ImageNet weights); it is also
    recorded in the run's metadata, so the warning is a notice, not the record."""
