-- Schema version 3. Big base64 parts are kept decoded (storage/sqlite/decoded.py): their bytes go to
-- part_chunks, and the raw blocks that held their base64 keep only a reference to them (compressed = 2,
-- a "derived" block, rebuilt by encoding the chunks again), so /raw still returns the bytes received and
-- the data is stored once. Reading such a part is a plain read of its chunks: no base64, and for formats
-- that do not compress (JPEG, PNG, MP4, PDF) no zstd either.
ALTER TABLE {prefix}parts ADD COLUMN stored INTEGER NOT NULL DEFAULT 0;  -- 0 encoded in the raw blocks,
                                                                        -- 1 decoded in part_chunks,
                                                                        -- 2 checked: stays encoded

-- The decoded bytes of a part, in chunks of a fixed size, each compressed on its own (zstd) or stored.
CREATE TABLE {prefix}part_chunks (
    message INTEGER NOT NULL,                  -- messages.pk
    part_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    compressed INTEGER NOT NULL,               -- 1 = zstd frame, 0 = stored as is
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX {prefix}part_chunks_seq ON {prefix}part_chunks(message, part_id, seq);

CREATE TRIGGER {prefix}messages_delete_chunks AFTER DELETE ON {prefix}messages
BEGIN
    DELETE FROM {prefix}part_chunks WHERE message = OLD.pk;
END;
