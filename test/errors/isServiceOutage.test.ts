/**
 * Service outages and transient conflicts are recognised by their kind (SQLSTATE, errno, error class, or the
 * mark the pool puts on pg's message-only errors), never by message text; and the pipeline retries them
 * instead of quarantining the message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createPool, withTransaction, type Pool } from '../../src/db/pool.js';
import { ReportInputError, isServiceOutage, markServiceOutage } from '../../src/errors.js';
import { createLogger } from '../../src/log/createLogger.js';
import { processMessage } from '../../src/pipeline/processMessage.js';
import { insertRawMessage } from '../../src/store/rawMessages.js';
import { realJson } from '../helpers/fixtures.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { startTcpProxy } from '../helpers/tcpProxy.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const withCode = (code: string): Error => Object.assign(new Error('any text'), { code });
const named = (name: string): Error => Object.assign(new Error('any text'), { name });

const CASES: Array<[string, unknown, boolean]> = [
  ['08006 connection_failure', withCode('08006'), true],
  ['08001 unable to connect', withCode('08001'), true],
  ['53300 too_many_connections', withCode('53300'), true],
  ['53100 disk_full', withCode('53100'), true],
  ['57P01 admin_shutdown', withCode('57P01'), true],
  ['57P03 cannot_connect_now', withCode('57P03'), true],
  ['57014 query_canceled (statement_timeout)', withCode('57014'), true],
  ['40001 serialization_failure', withCode('40001'), true],
  ['40P01 deadlock_detected', withCode('40P01'), true],
  ['40002 deferred constraint failing at COMMIT', withCode('40002'), false],
  ['25006 read_only_sql_transaction (failover)', withCode('25006'), true],
  ['55P03 lock_not_available', withCode('55P03'), true],
  ['23505 unique_violation', withCode('23505'), false],
  ['22P02 invalid_text_representation', withCode('22P02'), false],
  ['42P01 undefined_table (a bug or a missing migration)', withCode('42P01'), false],
  ['28P01 invalid_password (configuration)', withCode('28P01'), false],
  ['ECONNREFUSED', withCode('ECONNREFUSED'), true],
  ['ECONNRESET', withCode('ECONNRESET'), true],
  ['ETIMEDOUT', withCode('ETIMEDOUT'), true],
  ['ENOTFOUND', withCode('ENOTFOUND'), true],
  ['EAI_AGAIN', withCode('EAI_AGAIN'), true],
  ['EPIPE', withCode('EPIPE'), true],
  ['ENOENT (a file, not a service)', withCode('ENOENT'), false],
  ['EACCES', withCode('EACCES'), false],
  ['ioredis MaxRetriesPerRequestError', named('MaxRetriesPerRequestError'), true],
  ['AggregateError of refused addresses', new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')]), true],
  ['AggregateError of anything else', new AggregateError([new Error('x')]), false],
  ['pg text without a mark', new Error('Connection terminated unexpectedly'), false],
  ['pg-pool text without a mark', new Error('timeout exceeded when trying to connect'), false],
  ['a bad input', new ReportInputError('json-invalid', 'x'), false],
  ['a TypeError', new TypeError('x is undefined'), false],
  ['null', null, false],
  ['a string', 'ECONNREFUSED', false],
];

describe('isServiceOutage classifies by kind', () => {
  for (const [name, err, expected] of CASES) {
    it(`${name}: ${expected ? 'outage' : 'not an outage'}`, () => assert.equal(isServiceOutage(err), expected));
  }

  it('believes a boundary that marked a message-only error', () => {
    const err = new Error('Connection terminated unexpectedly');
    markServiceOutage(err);
    assert.equal(isServiceOutage(err), true);
  });
});

describe('PostgreSQL, for real', () => {
  let db: TestDatabase;
  const log = createLogger('silent');
  before(async () => {
    db = await createTestDatabase();
    await db.pool.query('CREATE TABLE scratch (id int PRIMARY KEY, n int NOT NULL)');
  });
  after(() => db?.drop());

  async function twoClients<T>(fn: (a: pg.Client, b: pg.Client) => Promise<T>): Promise<T> {
    const clients = [new pg.Client({ connectionString: db.url }), new pg.Client({ connectionString: db.url })] as const;
    await Promise.all(clients.map((c) => c.connect()));
    try {
      return await fn(...clients);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  }

  /** Two transactions lock two rows in opposite order: PostgreSQL aborts one of them with 40P01. */
  function deadlock(): Promise<unknown> {
    return twoClients(async (a, b) => {
      await db.pool.query('INSERT INTO scratch VALUES (1, 0), (2, 0) ON CONFLICT (id) DO NOTHING');
      for (const c of [a, b]) await c.query(`BEGIN; SET LOCAL deadlock_timeout = '50ms'`);
      await a.query('UPDATE scratch SET n = n + 1 WHERE id = 1');
      await b.query('UPDATE scratch SET n = n + 1 WHERE id = 2');
      const results = await Promise.allSettled([
        a.query('UPDATE scratch SET n = n + 1 WHERE id = 2'),
        b.query('UPDATE scratch SET n = n + 1 WHERE id = 1'),
      ]);
      await Promise.all([a.query('ROLLBACK'), b.query('ROLLBACK')]);
      const failed = results.find((r) => r.status === 'rejected');
      assert.ok(failed, 'one of the two transactions is the deadlock victim');
      return failed.reason;
    });
  }

  /** A REPEATABLE READ transaction updates a row another transaction changed after its snapshot: 40001. */
  function serializationFailure(): Promise<unknown> {
    return twoClients(async (a, b) => {
      await db.pool.query('INSERT INTO scratch VALUES (3, 0) ON CONFLICT (id) DO NOTHING');
      await a.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await a.query('SELECT n FROM scratch WHERE id = 3');
      await b.query('UPDATE scratch SET n = n + 1 WHERE id = 3');
      const err = await a.query('UPDATE scratch SET n = n + 1 WHERE id = 3').then(
        () => assert.fail('the update should lose the race'),
        (e: unknown) => e,
      );
      await a.query('ROLLBACK');
      return err;
    });
  }

  it('a deadlock and a serialization failure are transient; a unique violation is not', async () => {
    const dead = await deadlock();
    assert.equal((dead as { code?: string }).code, '40P01');
    assert.ok(isServiceOutage(dead));
    const raced = await serializationFailure();
    assert.equal((raced as { code?: string }).code, '40001');
    assert.ok(isServiceOutage(raced));
    const unique = await db.pool.query('INSERT INTO scratch VALUES (1, 0)').then(
      () => assert.fail('duplicate key'),
      (e: unknown) => e,
    );
    assert.equal(isServiceOutage(unique), false);
  });

  for (const [name, make] of [
    ['deadlock', deadlock],
    ['serialization failure', serializationFailure],
  ] as const) {
    it(`a ${name} while storing is retried, not quarantined as internal-error`, async () => {
      const report = { ...(realJson('parsedmarc--smtp_tls.json') as Record<string, unknown>), 'report-id': `transient-${name}` };
      const mail = buildReportMail({ report });
      const id = await insertRawMessage(db.pool, mail, { channel: 'smtp' });
      const race = await make();
      // maxAttempts 1: anything not recognised as transient would be quarantined at once.
      const deps = { pool: db.pool, reportMaxBytes: 1 << 20, maxAttempts: 1, store: () => Promise.reject(race) };
      await assert.rejects(processMessage(deps, id), (err: unknown) => err === race);
      const row = await db.pool.query('SELECT status, reason, attempts FROM raw_messages WHERE id = $1', [id]);
      assert.deepEqual(row.rows[0], { status: 'pending', reason: null, attempts: 0 });
      // The retry stores it.
      const retried = await processMessage({ ...deps, store: undefined }, id);
      assert.equal(retried.outcome, 'stored');
    });
  }

  describe('through a connection that is cut', () => {
    let pool: Pool;
    let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
    before(async () => {
      proxy = await startTcpProxy(Number(new URL(db.url).port || 5432));
      const url = new URL(db.url);
      url.port = String(proxy.port);
      pool = createPool(url.toString(), { max: 2, connectionTimeoutMillis: 1000, log });
    });
    after(async () => {
      await pool.end();
      await proxy.close();
    });

    it('marks the loss of a checked-out connection mid-transaction, without crashing the process', async () => {
      await assert.rejects(
        withTransaction(pool, async (client) => {
          await client.query('SELECT 1');
          proxy.cut();
          await client.query('SELECT pg_sleep(0.2)');
        }),
        (err: unknown) => isServiceOutage(err),
      );
    });

    it('marks a failed connect and a failed pool.query while nothing answers', async () => {
      proxy.cut();
      await assert.rejects(pool.query('SELECT 1'), (err: unknown) => isServiceOutage(err));
      await assert.rejects(pool.connect(), (err: unknown) => isServiceOutage(err));
      proxy.restore();
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1);
    });

    it('leaves PostgreSQL answers to their SQLSTATE: a wrong database name is not an outage', async () => {
      const url = new URL(db.url);
      url.pathname = '/tlsrpt_no_such_database';
      const wrong = createPool(url.toString(), { max: 1, log });
      try {
        await assert.rejects(
          wrong.query('SELECT 1'),
          (err: unknown) => (err as { code?: string }).code === '3D000' && !isServiceOutage(err),
        );
      } finally {
        await wrong.end();
      }
    });
  });
});
