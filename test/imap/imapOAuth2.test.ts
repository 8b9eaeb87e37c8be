/**
 * XOAUTH2 against a real Dovecot whose oauth2 passdb asks a local RFC 7662 introspection endpoint (a tiny
 * HTTP server here) whether a token is active: the token from IMAP_OAUTH2_TOKEN_COMMAND, the token from the
 * refresh-token flow (a local token endpoint), and a refused token (exit status 2).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startDovecot, type Dovecot } from '../helpers/dovecot.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { runCli } from '../helpers/runCli.js';
import { REDIS_URL } from '../helpers/services.js';
import { clearQueuePrefix } from '../helpers/testConfig.js';
import { createTestDatabase, type TestDatabase } from '../helpers/testDatabase.js';

const GOOD_TOKEN = 'ya29.good-token';
const REFRESH_TOKEN = '1//refresh-token';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function formBody(req: import('node:http').IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

describe('tlsrpt imap with XOAUTH2', () => {
  let dovecot: Dovecot;
  let db: TestDatabase;
  const prefix = `test-imap-oauth2-${process.pid}`;
  const refreshRequests: URLSearchParams[] = [];
  // Dovecot's introspection: POST token=... -> is it active, and whose is it.
  const introspection = createServer((req, res) => {
    void formBody(req).then((form) => {
      const token = form.get('token');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(token === GOOD_TOKEN ? { active: true, username: 'reports' } : { active: false }));
    });
  });
  // The provider's token endpoint: refresh token -> access token.
  const tokenEndpoint = createServer((req, res) => {
    void formBody(req).then((form) => {
      refreshRequests.push(form);
      res.setHeader('content-type', 'application/json');
      if (form.get('grant_type') === 'refresh_token' && form.get('refresh_token') === REFRESH_TOKEN) {
        res.end(JSON.stringify({ access_token: GOOD_TOKEN, expires_in: 3599, token_type: 'Bearer' }));
      } else {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'Token has been expired or revoked.' }));
      }
    });
  });
  let tokenUrl = '';

  before(async () => {
    const introspectionUrl = `${await listen(introspection)}/introspect`;
    tokenUrl = `${await listen(tokenEndpoint)}/token`;
    // Each assigned as it starts, so that after() stops what did start when the other fails.
    await Promise.all([
      startDovecot({ oauth2IntrospectionUrl: introspectionUrl }).then((d) => (dovecot = d)),
      createTestDatabase().then((d) => (db = d)),
    ]);
    dovecot.deliver('reports', 'INBOX', [buildReportMail({ report: { 'report-id': 'x' }, reportId: 'oauth2-1@sender.example' })]);
  });
  after(async () => {
    introspection.close();
    tokenEndpoint.close();
    await Promise.all([dovecot?.stop(), db?.drop(), clearQueuePrefix(prefix)]);
  });

  const env = (extra: Record<string, string>) => ({
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    IMAP_URL: `imap://reports@127.0.0.1:${dovecot.port}/INBOX`,
    ...extra,
  });

  it('logs in with the token a command prints', async () => {
    const r = await runCli(['imap', '--once', '--format', 'json'], env({ IMAP_OAUTH2_TOKEN_COMMAND: `echo ${GOOD_TOKEN}` }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as Array<{ examined: number }>)[0]!.examined, 1);
  });

  it('logs in with a token from the refresh-token flow', async () => {
    const r = await runCli(
      ['imap', '--once'],
      env({
        IMAP_OAUTH2_TOKEN_URL: tokenUrl,
        IMAP_OAUTH2_CLIENT_ID: 'client-1',
        IMAP_OAUTH2_CLIENT_SECRET: 's3cret',
        IMAP_OAUTH2_REFRESH_TOKEN: REFRESH_TOKEN,
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    const last = refreshRequests.at(-1)!;
    assert.deepEqual([last.get('client_id'), last.get('client_secret')], ['client-1', 's3cret']);
  });

  it('a refused token or refresh token is a configuration error (exit status 2) that says what to check', async () => {
    const refused = await runCli(['imap', '--once'], env({ IMAP_OAUTH2_TOKEN_COMMAND: 'echo revoked-token' }));
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /refused the login.*OAuth2 token/);
    const revoked = await runCli(
      ['imap', '--once'],
      env({ IMAP_OAUTH2_TOKEN_URL: tokenUrl, IMAP_OAUTH2_CLIENT_ID: 'client-1', IMAP_OAUTH2_REFRESH_TOKEN: 'old' }),
    );
    assert.equal(revoked.code, 2, revoked.stderr);
    assert.match(revoked.stderr, /refused the refresh token \(HTTP 400: invalid_grant: Token has been expired or revoked\.\)/);
  });

  it('a mailbox without password and without a token source is refused at start', async () => {
    const r = await runCli(['imap', '--once'], env({}));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /has no password, so it logs in with XOAUTH2, but no token source is set/);
  });
});
