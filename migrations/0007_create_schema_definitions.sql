-- Up Migration

-- SQL functions and views get one home each: the files of migrations/definitions/, applied after the
-- numbered migrations by src/db/migrate.ts whenever they change (README.md in that directory says why and
-- how). This table records which content of each file the database holds, so an unchanged file is not
-- applied again and "tlsrpt migrate", start-up and /readyz can tell a changed one is pending.
CREATE TABLE schema_definitions (
  -- The file name, e.g. '40_readiness.sql'.
  name        text        PRIMARY KEY,
  -- SHA-256 of the file as applied, hex.
  sha256      text        NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
-- The functions and views stay as the definitions last made them.
DROP TABLE schema_definitions;
