"""accelsim: cycle-level simulator of sparse deep-learning accelerators."""

__version__ = "0.1.0"

from accelsim.errors import AccelsimError, ConfigError, EnergyError, TraceError  # noqa: E402

# Bound after the submodule import so the name `accelsim.simulate` is the function, not the module.
from accelsim.simulate import load_config, simulate  # noqa: E402
from accelsim.trace import Trace, load_trace, synth  # noqa: E402

__all__ = ["AccelsimError", "ConfigError", "EnergyError", "Trace", "TraceError", "__version__",
           "load_config", "load_trace", "simulate", "synth"]
