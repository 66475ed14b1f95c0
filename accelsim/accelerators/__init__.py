"""One sub-package per chip, all with the same surface (see base.Accelerator)."""
