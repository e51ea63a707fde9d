"""MongoDB adapters: the embedded server, the connection, documents and repositories."""
