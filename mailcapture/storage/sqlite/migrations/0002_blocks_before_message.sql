-- Schema version 2. Raw blocks may be committed before their message row: a big message's blocks are
-- written while it is still arriving (storage/sqlite/intake.py), under a pk reserved in sqlite_sequence,
-- and its row follows in the transaction that answers 250. So the blocks lose their foreign key; a
-- trigger deletes them with their message, and blocks whose message never came (a client gone, a crash)
-- are deleted when the intake is aborted and when the store opens.
CREATE TABLE {prefix}raw_blocks_v2 (
    message INTEGER NOT NULL,                  -- messages.pk (the row may not exist yet)
    seq INTEGER NOT NULL,
    compressed INTEGER NOT NULL,               -- 1 = zstd frame, 0 = stored as is
    data BLOB NOT NULL
);
INSERT INTO {prefix}raw_blocks_v2 (message, seq, compressed, data)
    SELECT message, seq, compressed, data FROM {prefix}raw_blocks;
DROP TABLE {prefix}raw_blocks;
ALTER TABLE {prefix}raw_blocks_v2 RENAME TO {prefix}raw_blocks;
CREATE UNIQUE INDEX {prefix}raw_blocks_seq ON {prefix}raw_blocks(message, seq);

CREATE TRIGGER {prefix}messages_delete_blocks AFTER DELETE ON {prefix}messages
BEGIN
    DELETE FROM {prefix}raw_blocks WHERE message = OLD.pk;
END;
