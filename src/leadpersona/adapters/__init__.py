"""Adapters: everything that talks to MongoDB, HTTP APIs, files and SQL."""
