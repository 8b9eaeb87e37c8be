-- Up Migration

-- Every message or POST body exactly as received. A row here is the promise behind "250 queued as <id>":
-- it is written and committed before the sender is told the message was accepted.
CREATE TABLE raw_messages (
  id              bigserial PRIMARY KEY,
  channel         text        NOT NULL CHECK (channel IN ('smtp', 'http', 'ingest')),
  received_at     timestamptz NOT NULL DEFAULT now(),
  remote_address  text,
  helo            text,
  mail_from       text,
  rcpt_to         text[]      NOT NULL DEFAULT '{}',
  size_bytes      integer     NOT NULL,
  sha256          bytea       NOT NULL,
  raw             bytea       NOT NULL,
  -- pending: stored, not processed yet (queued or waiting for the sweep)
  -- stored / duplicate / conflict: processed; see reports.raw_message_id and report_id below
  -- quarantined: processing refused the input; reason + detail say why
  status          text        NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'stored', 'duplicate', 'conflict', 'quarantined')),
  reason          text,
  detail          text,
  attempts        integer     NOT NULL DEFAULT 0,
  last_error      text,
  report_id       bigint,
  processed_at    timestamptz,
  CHECK (status <> 'quarantined' OR reason IS NOT NULL)
);

-- The sweep looks for pending messages oldest first; a partial index keeps that cheap however much is stored.
CREATE INDEX raw_messages_pending_idx ON raw_messages (id) WHERE status = 'pending';
CREATE INDEX raw_messages_quarantined_idx ON raw_messages (received_at) WHERE status = 'quarantined';
CREATE INDEX raw_messages_sha256_idx ON raw_messages (sha256);

-- One row per distinct report. Identity is (organization_name, report_id): RFC 8460 section 4.4 makes
-- report-id unique per reporting organisation only.
CREATE TABLE reports (
  id                 bigserial PRIMARY KEY,
  raw_message_id     bigint      NOT NULL REFERENCES raw_messages (id),
  organization_name  text        NOT NULL,
  report_id          text        NOT NULL,
  contact_info       text,
  start_at           timestamptz NOT NULL,
  end_at             timestamptz NOT NULL,
  -- Hash of the report JSON as received: tells a re-delivery (same hash) from a conflict (same id, other data).
  payload_sha256     bytea       NOT NULL,
  report_json        jsonb       NOT NULL,
  -- Names of the fix-ups applied to make a sender's deviation from RFC 8460 readable (README "Fix-ups").
  fixups             text[]      NOT NULL DEFAULT '{}',
  -- RFC 8460 section 5.3 mail headers, and the Report-ID of the Subject (Google's differs from the JSON's).
  tls_report_domain     text,
  tls_report_submitter  text,
  subject_report_id     text,
  attachment_filename   text,
  stored_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (organization_name, report_id)
);

CREATE INDEX reports_start_at_idx ON reports (start_at);
CREATE INDEX reports_raw_message_id_idx ON reports (raw_message_id);

ALTER TABLE raw_messages
  ADD CONSTRAINT raw_messages_report_id_fkey FOREIGN KEY (report_id) REFERENCES reports (id);

-- RFC 8460 section 4.3/4.4: one entry of "policies" per policy the sender evaluated.
CREATE TABLE policies (
  id                              bigserial PRIMARY KEY,
  report_id                       bigint  NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
  policy_index                    integer NOT NULL,
  policy_type                     text    NOT NULL,
  policy_domain                   text,
  policy_string                   text[]  NOT NULL DEFAULT '{}',
  mx_host                         text[]  NOT NULL DEFAULT '{}',
  total_successful_session_count  bigint  NOT NULL CHECK (total_successful_session_count >= 0),
  total_failure_session_count     bigint  NOT NULL CHECK (total_failure_session_count >= 0),
  UNIQUE (report_id, policy_index)
);

CREATE INDEX policies_domain_idx ON policies (policy_domain, report_id);

-- RFC 8460 section 4.3 "failure-details".
CREATE TABLE failure_details (
  id                     bigserial PRIMARY KEY,
  policy_id              bigint NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
  report_id              bigint NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
  result_type            text   NOT NULL,
  sending_mta_ip         text,
  receiving_mx_hostname  text,
  receiving_mx_helo      text,
  receiving_ip           text,
  failed_session_count   bigint NOT NULL CHECK (failed_session_count >= 0),
  additional_information text,
  failure_reason_code    text
);

CREATE INDEX failure_details_policy_id_idx ON failure_details (policy_id);
CREATE INDEX failure_details_report_id_idx ON failure_details (report_id);

-- Down Migration
DROP TABLE failure_details;
DROP TABLE policies;
ALTER TABLE raw_messages DROP CONSTRAINT raw_messages_report_id_fkey;
DROP TABLE reports;
DROP TABLE raw_messages;
