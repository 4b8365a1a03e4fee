"""Pydantic models at every boundary: request bodies, queue messages and table items."""
