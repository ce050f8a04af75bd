"""The embedded SQLite storage engine."""

from mailcapture.storage.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
