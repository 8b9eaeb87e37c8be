/**
 * HTTPS reports cannot carry DKIM (RFC 8460 5.4): a sender's token (HTTP_REPORT_TOKENS, Authorization:
 * Bearer) marks its POSTs as authenticated. Through the real HTTP server and worker (test/helpers/httpHarness.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tokenSender } from '../../src/auth/tokenSender.js';
import { describeConfig } from '../../src/config/describeConfig.js';
import { ConfigError } from '../../src/errors.js';
import { postReport, startHttpHarness, type HttpHarness } from '../helpers/httpHarness.js';
import { testConfig } from '../helpers/testConfig.js';
import { testReport } from './dkimTestMail.js';

const TOKEN = 'c0ffee-0123456789abcdef-token';

describe('HTTPS report POSTs with a sender token', () => {
  let h: HttpHarness;

  before(async () => {
    h = await startHttpHarness({ HTTP_REPORT_TOKENS: `example-mta=${TOKEN}, other=another-token-0123456789` });
  });
  after(() => h?.close());

  async function post(authorization?: string) {
    const body = JSON.stringify(testReport('Example MTA', 'tokens.example'));
    const res = await postReport(h.url(), body, {
      'content-type': 'application/tlsrpt+json',
      ...(authorization ? { authorization } : {}),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await h.settled(res.body.id!);
    const [row] = (
      await h.db.pool.query(
        `SELECT m.status, m.authentication ->> 'method' AS method, r.authenticated, r.authenticated_by
         FROM raw_messages m JOIN reports r ON r.id = m.report_id WHERE m.id = $1`,
        [res.body.id],
      )
    ).rows;
    return row;
  }

  it('a POST bearing a sender token is stored as authenticated by that sender', async () => {
    assert.deepEqual(await post(`Bearer ${TOKEN}`), {
      status: 'stored',
      method: 'https',
      authenticated: true,
      authenticated_by: 'token of example-mta',
    });
  });

  it('a POST without a token, or with an unknown one, is stored all the same, not authenticated', async () => {
    for (const authorization of [undefined, 'Bearer not-a-known-token-at-all', `Basic ${TOKEN}`]) {
      assert.deepEqual(await post(authorization), { status: 'stored', method: 'https', authenticated: false, authenticated_by: null });
    }
  });

  it('tokenSender compares whole tokens only', () => {
    const tokens = [{ sender: 'a', token: TOKEN }];
    assert.equal(tokenSender(`bearer ${TOKEN}`, tokens), 'a');
    assert.equal(tokenSender(`Bearer ${TOKEN.slice(0, -1)}`, tokens), null);
    assert.equal(tokenSender(`Bearer ${TOKEN}x`, tokens), null);
    assert.equal(tokenSender(undefined, tokens), null);
  });

  it('HTTP_REPORT_TOKENS refuses short or repeated tokens, and is printed without them', () => {
    assert.throws(
      () => testConfig(h.db.url, { HTTP_REPORT_TOKENS: 'a=short' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'HTTP_REPORT_TOKENS' && !err.message.includes('short'),
    );
    assert.throws(() => testConfig(h.db.url, { HTTP_REPORT_TOKENS: `a=${TOKEN},b=${TOKEN}` }), /same token/);
    const shown = describeConfig(h.config).HTTP_REPORT_TOKENS;
    assert.equal(shown, 'example-mta=***, other=***');
    assert.ok(!JSON.stringify(describeConfig(h.config)).includes(TOKEN));
  });
});
