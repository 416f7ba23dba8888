"""Provider adapters: one module per upstream family, registered in `registry`."""
