/**
 * Issue 15 finding 3: one address could block all SMTP delivery (500 connections from one address sending
 * NOOP got every other sender "421 Too many connected clients"); and finding 2's SMTP part: a hung database
 * stalled the reply to DATA (15 s), where a time limit and 451 let the sender retry later.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createAddressCounter } from '../../src/receive/smtpSessionLimits.js';
import { realJson } from '../helpers/fixtures.js';
import { startHarness, type Harness } from '../helpers/pipelineHarness.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { queuedId, smtpSend } from '../helpers/smtpSend.js';
import { waitFor } from '../helpers/waitFor.js';

/** An SMTP client that records every reply line and can send commands. */
interface Client {
  replies: string[];
  closed: Promise<void>;
  send(line: string): void;
  /** Waits for the reply count to reach n; returns the last reply. */
  reply(n: number, timeoutMs?: number): Promise<string>;
  destroy(): void;
}

function connect(port: number, localAddress = '127.0.0.1'): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    const replies: string[] = [];
    let buffer = '';
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy()); // a refused client may see a reset; its replies tell the story
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let m: RegExpExecArray | null;
      while ((m = /^\d{3}[ -][^\r\n]*\r\n/m.exec(buffer))) {
        if (m[0][3] === ' ') replies.push(m[0].trimEnd());
        buffer = buffer.slice(m.index + m[0].length);
      }
    });
    socket.once('connect', () =>
      resolve({
        replies,
        closed,
        send: (line) => socket.write(`${line}\r\n`),
        reply: (n, timeoutMs = 10_000) => waitFor(`SMTP reply ${n}`, async () => replies[n - 1], timeoutMs),
        destroy: () => socket.destroy(),
      }),
    );
    socket.once('error', reject);
  });
}

const mail = (id: string) => buildReportMail({ report: { ...(realJson('parsedmarc--smtp_tls.json') as object), 'report-id': id } });

describe('SMTP limits per client', () => {
  let h: Harness;
  const clients: Client[] = [];
  before(async () => {
    h = await startHarness({}, { worker: false }); // the defaults: 500 connections, 20 per client address
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await h?.close();
  });

  it('500 NOOP-ing connections from one address do not stop another address from delivering', async () => {
    for (let i = 0; i < 500; i++) clients.push(await connect(h.receiver.port, '127.0.0.2'));
    // Every one gets an answer: a greeting, or the refusal of a connection over the per-address limit.
    await Promise.all(clients.map((c) => c.reply(1, 30_000)));
    const greeted = clients.filter((c) => c.replies[0]!.startsWith('220 '));
    const refused = clients.filter((c) => c.replies[0]!.startsWith('421 '));
    assert.equal(greeted.length, 20);
    assert.equal(refused.length, 480);
    assert.match(refused[0]!.replies[0]!, /^421 4\.7\.0 .*Too many connections from your address/);
    for (const c of greeted) {
      c.send('EHLO hog.example');
      c.send('NOOP');
    }
    await Promise.all(greeted.map((c) => c.reply(3)));

    const sent = await smtpSend(h.receiver.port, mail('other-address'));
    assert.equal(sent.code, 250, sent.response);
    assert.ok(queuedId(sent.response) > 0);
  });

  it('counts connections per address and releases them', () => {
    const c = createAddressCounter(2);
    assert.deepEqual([c.take('a'), c.take('a'), c.take('a'), c.take('b')], [true, true, false, true]);
    c.release('a');
    assert.equal(c.take('a'), true);
    assert.equal(c.held('a'), 2);
  });
});

describe('SMTP session limits', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ SMTP_MAX_SESSION_SECONDS: '1', SMTP_MAX_COMMANDS_WITHOUT_MAIL: '4' }, { worker: false });
  });
  after(() => h?.close());

  it('closes a session past SMTP_MAX_SESSION_SECONDS with 421', async () => {
    const c = await connect(h.receiver.port);
    await c.reply(1);
    c.send('EHLO idle.example');
    await c.reply(2);
    assert.match(await c.reply(3, 5000), /^421 4\.4\.2 .*Session too long/);
    await c.closed;
  });

  it('closes a session past SMTP_MAX_COMMANDS_WITHOUT_MAIL; MAIL FROM starts the count again', async () => {
    const c = await connect(h.receiver.port);
    await c.reply(1);
    for (const [i, line] of [
      'EHLO chatty.example',
      'NOOP',
      'NOOP',
      'NOOP',
      'MAIL FROM:<a@sender.example>',
      'RSET',
      'NOOP',
      'NOOP',
      'NOOP',
    ].entries()) {
      c.send(line);
      assert.match(await c.reply(i + 2), /^250 /, line);
    }
    c.send('NOOP');
    assert.match(await c.reply(11), /^421 4\.7\.0 .*Too many commands without a message/);
    await c.closed;
  });
});

describe('SMTP commit time limit', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ SMTP_COMMIT_TIMEOUT_SECONDS: '1' }, { worker: false });
  });
  after(() => h?.close());

  it('answers 451 when the database does not commit in time, and the message is stored once it does', async () => {
    // A hung database, for real: a transaction holds raw_messages locked, so the receiver's INSERT waits.
    const locker = await h.db.pool.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE raw_messages IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const sent = await smtpSend(h.receiver.port, mail('hung-database'));
      assert.equal(sent.code, 451, sent.response);
      assert.ok(Date.now() - started < 5000, `replied after ${Date.now() - started} ms`);
      await locker.query('COMMIT');
    } finally {
      locker.release();
    }
    await waitFor('the late commit', async () => (await h.db.pool.query(`SELECT count(*)::int AS n FROM raw_messages`)).rows[0].n === 1);
  });
});
