"""Shared foundations every layer uses: the params schema, name registries, atomic file writes."""
