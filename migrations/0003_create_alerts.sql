-- Up Migration

-- Alerts on failed TLS sessions (README "Alerts"). Queries only the core tables (reports, policies,
-- failure_details); nothing here depends on the views of other migrations.

-- An evaluation window: the reports of one policy domain that arrive close together, judged as one group so
-- that a domain gets one message however many reporters and result types are involved. A report with failed
-- sessions opens a window when its domain has none open; the window is evaluated ALERT_GROUP_WAIT_SECONDS
-- later. Reports arriving meanwhile, failing or not, join it.
CREATE TABLE alert_windows (
  id             bigserial   PRIMARY KEY,
  policy_domain  text        NOT NULL,
  opened_at      timestamptz NOT NULL DEFAULT now(),
  closes_at      timestamptz NOT NULL,
  evaluated_at   timestamptz,
  -- What the evaluation decided: 'alerted', or why not ('below-threshold', 'cooldown', 'disabled').
  outcome        text,
  CHECK ((evaluated_at IS NULL) = (outcome IS NULL))
);

-- At most one open window per domain.
CREATE UNIQUE INDEX alert_windows_open_idx ON alert_windows (policy_domain) WHERE evaluated_at IS NULL;
CREATE INDEX alert_windows_closes_at_idx ON alert_windows (closes_at) WHERE evaluated_at IS NULL;

-- The reports a window covers. The primary key lets a report join one window per policy domain, ever: a
-- report re-processed or delivered twice can therefore never be counted, or alerted, twice.
CREATE TABLE alert_window_reports (
  report_id      bigint NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
  policy_domain  text   NOT NULL,
  window_id      bigint NOT NULL REFERENCES alert_windows (id) ON DELETE CASCADE,
  PRIMARY KEY (report_id, policy_domain)
);

CREATE INDEX alert_window_reports_window_id_idx ON alert_window_reports (window_id);

-- The periodic check looks for recently stored failing reports that no window holds (the alert hook could
-- not reach the database when they were stored).
CREATE INDEX reports_stored_at_idx ON reports (stored_at);

-- One row per alert message, whatever the number of destinations.
CREATE TABLE alerts (
  id             bigserial   PRIMARY KEY,
  -- What makes this alert unique: 'window-<id>', 'quiet-reporter:<domain>:<organisation>:<end of last report>',
  -- 'test-<uuid>'. Inserting an alert twice is a no-op.
  dedupe_key     text        NOT NULL UNIQUE,
  kind           text        NOT NULL CHECK (kind IN ('failed-sessions', 'quiet-reporter', 'test')),
  severity       text        NOT NULL CHECK (severity IN ('warning', 'critical')),
  policy_domain  text        NOT NULL,
  window_id      bigint      UNIQUE REFERENCES alert_windows (id) ON DELETE SET NULL,
  subject        text        NOT NULL,
  body_text      text        NOT NULL,
  -- The structured content (src/alert/alertContent.ts), as sent to generic webhooks.
  content        jsonb       NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  -- pending: a delivery is still being tried; delivered: every destination has it; partly-delivered /
  -- failed: some / all destinations gave up (see alert_deliveries); no-destination: none configured.
  status         text        NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'delivered', 'partly-delivered', 'failed', 'no-destination')),
  last_error     text
);

CREATE INDEX alerts_created_at_idx ON alerts (created_at);
CREATE INDEX alerts_policy_domain_idx ON alerts (policy_domain, created_at);

-- The result types of a failed-sessions alert: the state behind the cooldown per (domain, result type).
CREATE TABLE alert_items (
  alert_id         bigint  NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  result_type      text    NOT NULL,
  failed_sessions  bigint  NOT NULL CHECK (failed_sessions >= 0),
  critical         boolean NOT NULL,
  -- true: this result type is why the alert was sent (new, grown, cooldown over, turned critical);
  -- false: it was still in its cooldown and is only listed for the full picture.
  triggered        boolean NOT NULL,
  PRIMARY KEY (alert_id, result_type)
);

-- One row per (alert, destination): where it went and how that ended.
CREATE TABLE alert_deliveries (
  id                bigserial   PRIMARY KEY,
  alert_id          bigint      NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  destination_kind  text        NOT NULL CHECK (destination_kind IN ('webhook', 'slack', 'email')),
  -- kind + hash of the address: stable across restarts, and free of the secret a webhook URL carries.
  destination_key   text        NOT NULL,
  -- The address as it may be shown (secrets masked).
  target            text        NOT NULL,
  status            text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts          integer     NOT NULL DEFAULT 0,
  -- A stable kebab-case code (README "Delivery errors") and the message of the latest failed attempt.
  last_error_code   text,
  last_error        text,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  delivered_at      timestamptz,
  UNIQUE (alert_id, destination_key)
);

CREATE INDEX alert_deliveries_pending_idx ON alert_deliveries (id) WHERE status = 'pending';

-- Every attempt to deliver, successful or not.
CREATE TABLE alert_delivery_attempts (
  id            bigserial   PRIMARY KEY,
  delivery_id   bigint      NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
  attempt       integer     NOT NULL,
  attempted_at  timestamptz NOT NULL DEFAULT now(),
  duration_ms   integer     NOT NULL,
  ok            boolean     NOT NULL,
  -- "HTTP 200", or the SMTP server's reply to the message.
  response      text,
  error_code    text,
  error         text,
  CHECK (ok OR error_code IS NOT NULL)
);

CREATE INDEX alert_delivery_attempts_delivery_id_idx ON alert_delivery_attempts (delivery_id);

-- Down Migration
DROP TABLE alert_delivery_attempts;
DROP TABLE alert_deliveries;
DROP TABLE alert_items;
DROP TABLE alerts;
DROP TABLE alert_window_reports;
DROP TABLE alert_windows;
DROP INDEX reports_stored_at_idx;
