"""Helpers of the media node types (audio and images): model lookup, audio decoding, subtitle files."""
