"""Allow ``python -m leadpersona``."""

from leadpersona.entrypoints.cli.main import main

main()
