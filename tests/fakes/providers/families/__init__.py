"""One module per provider family; `registry.ALL_FAMILIES` lists them in mounting order."""
