-- Schema version 1. "{prefix}" is replaced by the tenant's table prefix ("" or "tenant_").

-- The searchable index: one small row per message (the raw bytes live in raw_blocks).
CREATE TABLE {prefix}messages (
    pk INTEGER PRIMARY KEY AUTOINCREMENT,      -- never reused, so a running blob stream cannot cross messages
    id TEXT NOT NULL UNIQUE,                   -- public ID: 22 URL-safe characters
    message_id TEXT NOT NULL DEFAULT '',
    created INTEGER NOT NULL,                  -- microseconds since the Unix epoch (UTC)
    read INTEGER NOT NULL DEFAULT 0,
    from_json TEXT,                            -- ["name", "address"] or NULL
    to_json TEXT NOT NULL DEFAULT '[]',        -- [["name", "address"], ...]
    cc_json TEXT NOT NULL DEFAULT '[]',
    bcc_json TEXT NOT NULL DEFAULT '[]',
    reply_to_json TEXT NOT NULL DEFAULT '[]',
    from_s TEXT NOT NULL DEFAULT '',           -- lower-cased "name <address>" lists, searched with LIKE
    to_s TEXT NOT NULL DEFAULT '',
    cc_s TEXT NOT NULL DEFAULT '',
    bcc_s TEXT NOT NULL DEFAULT '',
    reply_to_s TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    subject_s TEXT NOT NULL DEFAULT '',        -- lower-cased subject
    snippet TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL,                     -- raw bytes received
    attachments INTEGER NOT NULL DEFAULT 0,
    inlines INTEGER NOT NULL DEFAULT 0,
    username TEXT NOT NULL DEFAULT '',
    header_end INTEGER NOT NULL DEFAULT 0,
    return_path TEXT NOT NULL DEFAULT '',
    date TEXT,                                 -- ISO 8601 with the Date header's offset, or NULL
    block_size INTEGER NOT NULL,               -- size of this message's raw blocks (all but the last)
    search_text TEXT NOT NULL DEFAULT ''       -- lower-cased free text
);
CREATE INDEX {prefix}messages_created ON {prefix}messages(created);

-- The raw message, as received, in fixed-size blocks compressed independently (zstd, or stored).
CREATE TABLE {prefix}raw_blocks (
    message INTEGER NOT NULL REFERENCES {prefix}messages(pk) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    compressed INTEGER NOT NULL,               -- 1 = zstd frame, 0 = stored as is
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX {prefix}raw_blocks_seq ON {prefix}raw_blocks(message, seq);

-- Leaf parts: where each encoded body lies in the raw message.
CREATE TABLE {prefix}parts (
    message INTEGER NOT NULL REFERENCES {prefix}messages(pk) ON DELETE CASCADE,
    part_id TEXT NOT NULL,
    seq INTEGER NOT NULL,                      -- order in the message
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    charset TEXT NOT NULL DEFAULT '',
    filename TEXT NOT NULL DEFAULT '',
    content_id TEXT NOT NULL DEFAULT '',
    disposition TEXT NOT NULL DEFAULT '',
    size INTEGER NOT NULL,                     -- decoded bytes
    md5 TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    encoding TEXT NOT NULL,
    start_off INTEGER NOT NULL,                -- encoded body is raw[start_off:end_off]; -1 when in part_data
    end_off INTEGER NOT NULL,
    PRIMARY KEY (message, part_id)
) WITHOUT ROWID;
CREATE INDEX {prefix}parts_sha256 ON {prefix}parts(sha256);

-- Decoded bytes of the rare parts the parser could not locate in the raw message.
CREATE TABLE {prefix}part_data (
    message INTEGER NOT NULL,
    part_id TEXT NOT NULL,
    compressed INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (message, part_id),
    FOREIGN KEY (message, part_id) REFERENCES {prefix}parts(message, part_id) ON DELETE CASCADE
);

CREATE TABLE {prefix}tags (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);

CREATE TABLE {prefix}message_tags (
    message INTEGER NOT NULL REFERENCES {prefix}messages(pk) ON DELETE CASCADE,
    tag INTEGER NOT NULL REFERENCES {prefix}tags(id) ON DELETE CASCADE,
    PRIMARY KEY (message, tag)
) WITHOUT ROWID;
CREATE INDEX {prefix}message_tags_tag ON {prefix}message_tags(tag);

-- Totals kept by triggers, so counting never scans the index table.
CREATE TABLE {prefix}counters (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    total INTEGER NOT NULL,
    unread INTEGER NOT NULL
);
INSERT INTO {prefix}counters (id, total, unread) VALUES (1, 0, 0);

CREATE TRIGGER {prefix}messages_count_insert AFTER INSERT ON {prefix}messages
BEGIN
    UPDATE {prefix}counters SET total = total + 1, unread = unread + (NEW.read = 0) WHERE id = 1;
END;

CREATE TRIGGER {prefix}messages_count_delete AFTER DELETE ON {prefix}messages
BEGIN
    UPDATE {prefix}counters SET total = total - 1, unread = unread - (OLD.read = 0) WHERE id = 1;
END;

CREATE TRIGGER {prefix}messages_count_read AFTER UPDATE OF read ON {prefix}messages
BEGIN
    UPDATE {prefix}counters SET unread = unread + (NEW.read = 0) - (OLD.read = 0) WHERE id = 1;
END;
