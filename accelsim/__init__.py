"""accelsim: cycle-level simulator of sparse deep-learning accelerators."""

from accelsim import plot  # noqa: E402  (light: matplotlib is imported inside its functions)
from accelsim.errors import AccelsimError, ConfigError, EnergyError, TraceError  # noqa: E402

# Bound after the submodule imports so `accelsim.simulate` and `accelsim.sweep` are the functions, not
# the modules (reach those with `from accelsim.sweep import Store` or importlib.import_module).
from accelsim.simulate import load_config, simulate  # noqa: E402
from accelsim.sweep import sweep  # noqa: E402
from accelsim.trace import Trace, load_trace, synth  # noqa: E402
from accelsim.version import __version__  # noqa: E402,F401

__all__ = ["AccelsimError", "ConfigError", "EnergyError", "Trace", "TraceError", "__version__",
           "load_config", "load_trace", "plot", "simulate", "sweep", "synth"]
