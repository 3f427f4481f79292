"""Marketplace of graph templates (publishing, discovery, installing): moves graph JSON, never code."""
