"""The persona HTTP API (``leadpersona serve``)."""
