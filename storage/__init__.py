"""Persistence: database engine and sessions, models, repositories, and the artifact store."""
