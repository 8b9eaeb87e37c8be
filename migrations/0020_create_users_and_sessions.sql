-- Up Migration

-- Dashboard users (README "Dashboard"): made by `tlsrpt user add NAME --role read|admin`. The password is kept
-- only as a scrypt hash (src/users/passwordHash.ts): "scrypt$N$r$p$salt$hash", base64url parts.
CREATE TABLE users (
  id             bigserial   PRIMARY KEY,
  name           text        NOT NULL UNIQUE,
  role           text        NOT NULL CHECK (role IN ('read', 'admin')),
  password_hash  text        NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Logged-in dashboard sessions. The cookie carries a random token; only its SHA-256 is stored, so a copy of
-- the table cannot be replayed as cookies. The CSRF token is sent back with every action (POST, DELETE).
CREATE TABLE user_sessions (
  token_sha256  bytea       PRIMARY KEY,
  user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  csrf_token    text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL
);

CREATE INDEX user_sessions_user_id_idx ON user_sessions (user_id);
CREATE INDEX user_sessions_expires_at_idx ON user_sessions (expires_at);

-- Down Migration
DROP TABLE user_sessions;
DROP TABLE users;
