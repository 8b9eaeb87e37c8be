-- Up Migration

-- Messages pulled rather than received: `tlsrpt imap` reads them from a mailbox (channel 'imap'), and
-- `tlsrpt ingest` from files. Each row records where it came from, so an administrator can find the
-- original, and so a re-read is recognised:
-- * IMAP: the mailbox (imap://USER@HOST:PORT/FOLDER, never the password), its UIDVALIDITY and the message's
--   UID. RFC 9051 section 2.3.1.1: (mailbox, UIDVALIDITY, UID) names one message for good; a new UIDVALIDITY
--   renumbers every message, so after one the raw bytes (sha256, indexed since 0001) recognise what is stored.
-- * ingest: the file and the message's position in it (1-based in an mbox, 1 for a single .eml).
-- Adding nullable columns without defaults changes no existing row: it is instant on any table size. The
-- CHECK constraint is replaced, which reads raw_messages once (old rows all pass).
ALTER TABLE raw_messages DROP CONSTRAINT raw_messages_channel_check;
ALTER TABLE raw_messages ADD CONSTRAINT raw_messages_channel_check CHECK (channel IN ('smtp', 'http', 'ingest', 'imap'));
ALTER TABLE raw_messages
  ADD COLUMN source_mailbox     text,
  ADD COLUMN source_uidvalidity bigint,
  ADD COLUMN source_uid         bigint,
  ADD COLUMN source_file        text,
  ADD COLUMN source_position    integer;

-- One row per IMAP message: a re-read after a crash between the commit and the server-side mark or move
-- finds its row here (src/imap/pullMailbox.ts). Only IMAP rows are in it.
CREATE UNIQUE INDEX raw_messages_imap_source_idx ON raw_messages (source_mailbox, source_uidvalidity, source_uid)
  WHERE source_uid IS NOT NULL;

-- Down Migration
-- Refused (the CHECK below fails) while IMAP rows exist: delete or keep them knowingly first.
DROP INDEX raw_messages_imap_source_idx;
ALTER TABLE raw_messages
  DROP COLUMN source_mailbox,
  DROP COLUMN source_uidvalidity,
  DROP COLUMN source_uid,
  DROP COLUMN source_file,
  DROP COLUMN source_position;
ALTER TABLE raw_messages DROP CONSTRAINT raw_messages_channel_check;
ALTER TABLE raw_messages ADD CONSTRAINT raw_messages_channel_check CHECK (channel IN ('smtp', 'http', 'ingest'));
