"""Exceptions for bad input. The CLI turns every AccelsimError into one line and exit code 2."""

from __future__ import annotations


def brief(value: object, limit: int = 40) -> str:
    """``repr`` of a bad value for an error message, cut to ``limit`` characters.

    Safe for values a corrupt file can hold: a 5,000-digit integer (whose ``repr`` raises) or a list
    nested thousands deep.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 4 * limit:
        return f"<{value.bit_length()}-bit integer>"
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


class AccelsimError(Exception):
    """Base class of the errors a user can cause (bad trace, bad config, bad spec)."""


class TraceError(AccelsimError):
    """A trace file is unreadable or inconsistent. The message names the file, layer and problem."""


class ConfigError(AccelsimError):
    """An accelerator config is invalid. The message names the key and the reason."""


class EnergyError(AccelsimError):
    """An energy table is invalid or lacks a price for a counted action."""


class ShapeError(TraceError, ValueError):
    """A layer's shape parameters are inconsistent or absurd (a ValueError too, for older callers)."""
