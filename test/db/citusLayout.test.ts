/**
 * Past one PostgreSQL primary (README "Past one PostgreSQL primary"): how each table would be placed on a
 * Citus cluster, and the rules Citus sets for that placement, checked against the migrated schema so that
 * it does not drift further from it. Citus cannot be installed here; the rules are Citus's documented ones:
 * - a primary key or unique constraint of a distributed table must contain its distribution column, and a
 *   foreign key between distributed tables must join co-located tables on it (docs "Creating and Modifying
 *   Distributed Tables (DDL)", Adding/Removing Constraints);
 * - foreign keys go between two local tables, two reference tables, two co-located distributed tables, or from
 *   a distributed (or local) table to a reference table, never from a reference table to a distributed one;
 * - a distribution column never holds NULL ("cannot perform an INSERT with NULL in the partition column");
 * - node-generated sequence values need bigint ("SQL Support and Workarounds");
 * - one level of partitioning at most ("Distributing multi-level partitioned tables is not supported");
 * - triggers on distributed tables need citus.enable_unsafe_triggers and fire per shard.
 * What breaks a rule today is listed in BLOCKERS, with the step that removes it: a new table, constraint or
 * trigger that breaks one fails here until it is placed or listed (and the README says what to do about it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

type Placement = { distributedBy: string; colocatedWith?: string } | 'reference' | 'local';

/** Every table of the schema (partitioned tables by their parent), as the README places it. */
const CITUS_LAYOUT: Record<string, Placement> = {
  // A report with its policies, failure details, rollup queue entry and alert-window links on one shard:
  // every join between them is on the report id. Not the policy domain: a report has none of its own (each
  // policy names one, and two policies of a report may differ), policies.policy_domain is NULL until a copy
  // of the report with the mail header completes it, and Citus neither stores NULL in nor updates a
  // distribution column.
  reports: { distributedBy: 'id' },
  policies: { distributedBy: 'report_id', colocatedWith: 'reports' },
  failure_details: { distributedBy: 'report_id', colocatedWith: 'reports' },
  rollup_queue: { distributedBy: 'report_id', colocatedWith: 'reports' },
  alert_window_reports: { distributedBy: 'report_id', colocatedWith: 'reports' },
  // The dedupe of every report ever stored: its key is the identity, so it is distributed by that.
  report_identities: { distributedBy: 'organization_name' },
  // The raw mails, by their own id (a pending message has no report yet).
  raw_messages: { distributedBy: 'id' },
  // Small, joined with the distributed tables, or written rarely: a copy on every node.
  alert_windows: 'reference',
  alerts: 'reference',
  alert_items: 'reference',
  alert_deliveries: 'reference',
  alert_delivery_attempts: 'reference',
  daily_session_totals: 'reference',
  daily_domain_totals: 'reference',
  daily_failure_totals: 'reference',
  metric_session_totals: 'reference',
  metric_failure_totals: 'reference',
  rollup_refresh_days: 'reference',
  rollup_state: 'reference',
  retention_runs: 'reference',
  retention_cascades: 'reference',
  users: 'reference',
  user_sessions: 'reference',
  // Migration bookkeeping, read by src/db/migrate.ts on the coordinator only.
  pgmigrations: 'local',
  schema_definitions: 'local',
};

/**
 * What breaks a rule today, by constraint, index or trigger name, each with the step that removes it (the
 * README's steps). Exact: a blocker removed from the schema must be removed here too.
 */
const BLOCKERS: Record<string, string> = {
  reports_organization_name_report_id_key:
    'a plain index on (organization_name, report_id): the identity is unique in report_identities, which the store inserts into first',
  policies_pkey: 'primary key (report_id, id, stored_at)',
  failure_details_pkey: 'primary key (report_id, id, stored_at)',
  report_identities_pkey: 'a plain index on id; (organization_name, report_id) stays the key',
  raw_messages_imap_source_idx:
    'the IMAP reader checks the (mailbox, UIDVALIDITY, UID) it commits itself, or raw_messages stays a local table on the coordinator',
  reports_queue_rollup:
    'the store statement queues its reports in rollup_queue itself (a co-located insert) instead of a statement trigger with a transition table',
};

describe('Citus layout: the schema keeps to the placement the README gives it', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(() => db?.drop());

  const distributed = (t: string) => {
    const p = CITUS_LAYOUT[t];
    return typeof p === 'object' ? p : null;
  };
  const kind = (t: string) => (typeof CITUS_LAYOUT[t] === 'object' ? 'distributed' : (CITUS_LAYOUT[t] as string | undefined));
  const found = new Set<string>();

  it('places every table, and only tables that exist', async () => {
    const r = await db.pool.query<{ t: string }>(
      `SELECT c.relname AS t FROM pg_class c
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
    );
    const tables = r.rows.map((x) => x.t).sort();
    for (const t of tables)
      assert.ok(CITUS_LAYOUT[t], `table ${t}: place it in CITUS_LAYOUT and the README ("Past one PostgreSQL primary")`);
    assert.deepEqual(Object.keys(CITUS_LAYOUT).sort(), tables);
  });

  it('distribution columns exist, are never NULL, and co-located tables share their type', async () => {
    for (const [t, p] of Object.entries(CITUS_LAYOUT)) {
      if (typeof p !== 'object') continue;
      const r = await db.pool.query<{ notnull: boolean; type: string }>(
        `SELECT a.attnotnull AS notnull, format_type(a.atttypid, a.atttypmod) AS type
         FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped`,
        [t, p.distributedBy],
      );
      assert.equal(r.rowCount, 1, `${t}.${p.distributedBy} exists`);
      assert.ok(r.rows[0]!.notnull, `${t}.${p.distributedBy} is NOT NULL`);
      if (p.colocatedWith) {
        const group = distributed(p.colocatedWith)!;
        const other = await db.pool.query<{ type: string }>(
          `SELECT format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attname = $2`,
          [p.colocatedWith, group.distributedBy],
        );
        assert.equal(r.rows[0]!.type, other.rows[0]!.type, `${t} is co-located with ${p.colocatedWith}: same column type`);
      }
    }
  });

  it('every primary key and unique index of a distributed table contains its distribution column, or is a listed blocker', async () => {
    const r = await db.pool.query<{ t: string; idx: string; cols: string[] }>(
      `SELECT c.relname AS t, i.relname AS idx,
              ARRAY(SELECT a.attname FROM unnest(x.indkey) k JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k)::text[] AS cols
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
       WHERE c.relnamespace = 'public'::regnamespace AND x.indisunique AND NOT c.relispartition`,
    );
    for (const row of r.rows) {
      const p = distributed(row.t);
      if (!p) continue;
      if (row.cols.includes(p.distributedBy)) continue;
      assert.ok(
        BLOCKERS[row.idx],
        `unique index ${row.idx} on ${row.t} (${row.cols.join(', ')}) lacks ${p.distributedBy}: Citus cannot enforce it across shards`,
      );
      found.add(row.idx);
    }
  });

  it('foreign keys go only where Citus allows them', async () => {
    const r = await db.pool.query<{ name: string; from: string; to: string; fromCols: string[]; toCols: string[] }>(
      `SELECT con.conname AS name, c.relname AS "from", f.relname AS "to",
              ARRAY(SELECT a.attname FROM unnest(con.conkey) k JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k)::text[] AS "fromCols",
              ARRAY(SELECT a.attname FROM unnest(con.confkey) k JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k)::text[] AS "toCols"
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_class f ON f.oid = con.confrelid
       WHERE con.contype = 'f' AND c.relnamespace = 'public'::regnamespace AND NOT c.relispartition`,
    );
    for (const fk of r.rows) {
      const from = kind(fk.from);
      const to = kind(fk.to);
      if (to === 'reference') continue; // distributed, reference or local -> reference: allowed
      if (to === 'local') {
        assert.equal(from, 'local', `${fk.name}: only a local table may reference the local ${fk.to}`);
        continue;
      }
      // To a distributed table: only from a co-located distributed table, on the distribution column.
      const a = distributed(fk.from);
      const b = distributed(fk.to)!;
      const groupOf = (t: string) => distributed(t)?.colocatedWith ?? t;
      assert.ok(a && groupOf(fk.from) === groupOf(fk.to), `${fk.name}: ${fk.from} (${from}) may not reference the distributed ${fk.to}`);
      const at = fk.fromCols.indexOf(a.distributedBy);
      assert.ok(at >= 0 && fk.toCols[at] === b.distributedBy, `${fk.name}: joins on the distribution columns`);
    }
  });

  it('sequences are bigint, and partitioned tables have one level', async () => {
    const seqs = await db.pool.query<{ s: string; type: string; owner: string | null }>(
      `SELECT s.seqrelid::regclass::text AS s, format_type(s.seqtypid, NULL) AS type, d.refobjid::regclass::text AS owner
       FROM pg_sequence s LEFT JOIN pg_depend d ON d.objid = s.seqrelid AND d.deptype = 'a' AND d.classid = 'pg_class'::regclass`,
    );
    for (const s of seqs.rows) {
      if (s.owner && CITUS_LAYOUT[s.owner] !== 'local') assert.equal(s.type, 'bigint', `sequence ${s.s} of ${s.owner}`);
    }
    const nested = await db.pool.query<{ t: string }>(
      `SELECT c.relname AS t FROM pg_class c WHERE c.relkind = 'p' AND c.relispartition AND c.relnamespace = 'public'::regnamespace`,
    );
    assert.deepEqual(nested.rows, [], 'a partition that is itself partitioned');
  });

  it('triggers on distributed tables are listed blockers, and every blocker still exists', async () => {
    const r = await db.pool.query<{ t: string; name: string }>(
      `SELECT c.relname AS t, g.tgname AS name FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
       WHERE NOT g.tgisinternal AND c.relnamespace = 'public'::regnamespace AND NOT c.relispartition`,
    );
    for (const row of r.rows) {
      if (!distributed(row.t)) continue;
      assert.ok(BLOCKERS[row.name], `trigger ${row.name} on the distributed ${row.t}`);
      found.add(row.name);
    }
    // Run after the unique-index check: a blocker the schema no longer has must leave the list and the README.
    assert.deepEqual([...found].sort(), Object.keys(BLOCKERS).sort());
  });
});
