"""Entry points: the command line and the HTTP API."""
