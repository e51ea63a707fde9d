"""Services: the use cases, orchestrating adapters around the domain."""
