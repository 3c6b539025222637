"""Errors that reach the user as one readable line (see ``aesformer.cli``)."""

from __future__ import annotations


class AesformerError(Exception):
    """Base class: the message is shown to the user as is, without a traceback."""


class ConfigError(AesformerError):
    """A params file is missing, unreadable, or does not validate."""


class InputError(AesformerError):
    """An input file or folder is missing or unreadable."""


class OutputError(AesformerError):
    """An output location cannot be written."""
