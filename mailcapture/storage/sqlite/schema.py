"""Table names per tenant and the migration runner (numbered SQL files in ``migrations/``)."""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from mailcapture.errors import StorageError

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
PREFIX_PLACEHOLDER = "{prefix}"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[A-Za-z0-9_]+\.sql$")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


def table_prefix(tenant_id: str) -> str:
    """``""`` for no tenant, else the tenant id sanitised to ``[a-zA-Z0-9_]`` plus ``_``.

    An id starting with a digit gets a leading ``t`` so every table name is a plain identifier.
    """
    tenant = _UNSAFE.sub("_", tenant_id.strip())
    if not tenant:
        return ""
    if tenant[0].isdigit():
        tenant = "t" + tenant
    return tenant + "_"


@dataclass(frozen=True, slots=True)
class Tables:
    """Every table name of one tenant."""

    prefix: str

    @property
    def messages(self) -> str:
        return f"{self.prefix}messages"

    @property
    def blocks(self) -> str:
        return f"{self.prefix}raw_blocks"

    @property
    def parts(self) -> str:
        return f"{self.prefix}parts"

    @property
    def part_data(self) -> str:
        return f"{self.prefix}part_data"

    @property
    def part_chunks(self) -> str:
        return f"{self.prefix}part_chunks"

    @property
    def tags(self) -> str:
        return f"{self.prefix}tags"

    @property
    def message_tags(self) -> str:
        return f"{self.prefix}message_tags"

    @property
    def counters(self) -> str:
        return f"{self.prefix}counters"

    @property
    def migrations(self) -> str:
        return f"{self.prefix}schema_migrations"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(directory.iterdir()):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise RuntimeError(f"two migrations numbered {version}: {found[version].name}, {path.name}")
        found[version] = Migration(version, path.name, path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def split_statements(sql: str) -> list[str]:
    """Split a script into complete statements (triggers' inner ``;`` included) without running it."""
    statements: list[str] = []
    current = ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        not ln.strip() or ln.strip().startswith("--") for ln in current.splitlines()
    ):
        raise RuntimeError(f"incomplete SQL statement at the end of a migration: {current.strip()[:80]!r}")
    return statements


def migrate(conn: sqlite3.Connection, tables: Tables, migrations: list[Migration] | None = None) -> list[int]:
    """Apply the missing migrations of this tenant; call inside a write transaction. Returns versions applied."""
    todo = load_migrations() if migrations is None else migrations
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {tables.migrations} "
        "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied INTEGER NOT NULL)"
    )
    applied = {row[0] for row in conn.execute(f"SELECT version FROM {tables.migrations}")}
    known = {m.version for m in todo}
    newer = sorted(applied - known)
    if newer and newer[-1] > max(known, default=0):
        raise StorageError(f"the database schema (version {newer[-1]}) is newer than this program understands")
    done: list[int] = []
    for migration in todo:
        if migration.version in applied:
            continue
        for statement in split_statements(migration.sql.replace(PREFIX_PLACEHOLDER, tables.prefix)):
            conn.execute(statement)
        conn.execute(
            f"INSERT INTO {tables.migrations} (version, name, applied) VALUES (?, ?, ?)",
            (migration.version, migration.name, int(time.time())),
        )
        done.append(migration.version)
    return done
