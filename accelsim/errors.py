"""Exceptions for bad input. The CLI turns every AccelsimError into one line and exit code 2."""


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
