"""Reusable UI pieces: the page frame, output viewers, forms, the flow editor."""
