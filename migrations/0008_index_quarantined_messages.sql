-- Up Migration

-- `tlsrpt reprocess` walks the quarantined messages in id order, one batch at a time, each batch starting
-- after the last id of the one before (src/pipeline/reprocessMessages.ts); `tlsrpt quarantine list` shows
-- the newest first by id. The quarantined index of 0001 is ordered by received_at, so each batch would sort
-- every quarantined message again. This one holds only quarantined rows: it costs stored messages nothing.
-- Building it reads raw_messages once, in time proportional to the table's size, and holds off new raw
-- messages meanwhile (receivers wait; past their timeouts they answer 451/503 and senders retry), so on a
-- large table run "tlsrpt migrate" at a quiet time.
CREATE INDEX raw_messages_quarantined_id_idx ON raw_messages (id) WHERE status = 'quarantined';

-- Down Migration
DROP INDEX raw_messages_quarantined_id_idx;
