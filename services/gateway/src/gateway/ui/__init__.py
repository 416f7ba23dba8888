"""The web console at `/ui`: server-rendered pages on top of the management commands."""
