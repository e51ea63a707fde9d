"""The ``leadpersona`` command line."""
