"""The migration runner: numbered files, per-tenant records, incremental and refusing newer schemas."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from mailcapture.errors import StorageError
from mailcapture.storage.sqlite.schema import MIGRATIONS_DIR, Tables, load_migrations, migrate, split_statements


def run(db: Path, tables: Tables, directory: Path) -> list[int]:
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        done = migrate(conn, tables, load_migrations(directory))
        conn.execute("COMMIT")
        return done
    finally:
        conn.close()


def test_migrations_apply_once_each_and_per_tenant(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    db = tmp_path / "x.db"
    shipped = [m.version for m in load_migrations(directory)]
    assert run(db, Tables(""), directory) == shipped
    assert run(db, Tables(""), directory) == []
    extra = shipped[-1] + 1
    (directory / f"{extra:04d}_add_note.sql").write_text("ALTER TABLE {prefix}messages ADD COLUMN note TEXT;\n")
    (directory / "README.txt").write_text("not a migration")
    assert run(db, Tables(""), directory) == [extra]
    assert run(db, Tables("other_"), directory) == [*shipped, extra]
    with closing(sqlite3.connect(db)) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(other_messages)")}
        assert "note" in columns
        assert conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall() == [
            (v,) for v in [*shipped, extra]]


def test_version_2_keeps_the_blocks_of_a_version_1_database(tmp_path: Path) -> None:
    """Upgrading moves every raw block to the table without a foreign key; deleting still cascades."""
    directory = tmp_path / "migrations"
    directory.mkdir()
    for m in load_migrations(MIGRATIONS_DIR):
        if m.version == 1:
            (directory / m.name).write_text(m.sql)
    db = tmp_path / "x.db"
    assert run(db, Tables(""), directory) == [1]
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("INSERT INTO messages (id, created, size, block_size) VALUES ('a', 1, 3, 2)")
        conn.executemany("INSERT INTO raw_blocks VALUES (1, ?, 0, ?)", [(0, b"ab"), (1, b"c")])
        conn.commit()
    assert run(db, Tables(""), MIGRATIONS_DIR)[0] == 2
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT seq, data FROM raw_blocks ORDER BY seq").fetchall() == [(0, b"ab"), (1, b"c")]
        assert conn.execute("PRAGMA foreign_key_list(raw_blocks)").fetchall() == []
        conn.execute("DELETE FROM messages")
        assert conn.execute("SELECT count(*) FROM raw_blocks").fetchone()[0] == 0


def test_a_database_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    future = directory / "9999_future.sql"
    future.write_text("CREATE TABLE {prefix}future (x);\n")
    db = tmp_path / "x.db"
    run(db, Tables(""), directory)
    future.unlink()
    with pytest.raises(StorageError, match="newer"):
        run(db, Tables(""), directory)


def test_duplicate_migration_numbers_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 2;")
    with pytest.raises(RuntimeError, match="two migrations"):
        load_migrations(tmp_path)


def test_split_statements_keeps_triggers_whole() -> None:
    sql = ("-- a comment\nCREATE TABLE t (x);\nCREATE TRIGGER tr AFTER INSERT ON t\nBEGIN\n"
           "    UPDATE t SET x = 1;\n    UPDATE t SET x = 2;\nEND;\n-- trailing comment\n")
    statements = split_statements(sql)
    assert len(statements) == 2 and statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with pytest.raises(RuntimeError, match="incomplete"):
        split_statements("CREATE TABLE t (x)")
