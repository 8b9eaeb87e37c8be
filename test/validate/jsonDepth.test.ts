/**
 * Issue 15 finding 4: an unknown key nested 100,000 levels deep passed the schema (unknown keys are allowed)
 * and then overflowed the stack in JSON.stringify when stored: `internal-error` after every attempt. It is
 * refused before parsing, as `json-too-deep`, on the first attempt.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ReportInputError } from '../../src/errors.js';
import { MAX_JSON_DEPTH, nestingPastLimit, openingsAtMost, parseReportJson } from '../../src/validate/parseReportJson.js';
import { realJson } from '../helpers/fixtures.js';
import { startHarness, type Harness } from '../helpers/pipelineHarness.js';
import { buildReportMail } from '../helpers/reportMail.js';
import { queuedId, smtpSend } from '../helpers/smtpSend.js';

const goodReport = realJson('parsedmarc--smtp_tls.json') as Record<string, unknown>;

/** The good report with an unknown key holding `levels` nested arrays, as bytes (JSON.stringify would overflow). */
function nestedReport(levels: number): Buffer {
  const text = JSON.stringify(goodReport);
  return Buffer.from(`${text.slice(0, -1)},"x-extension":${'['.repeat(levels)}${']'.repeat(levels)}}`);
}

describe('JSON nesting depth', () => {
  it('counts brackets outside strings only, and refuses past the limit', () => {
    assert.equal(nestingPastLimit('{"a":"[[[[[[","b":[{}]}', 3), null);
    assert.equal(nestingPastLimit('{"a":"\\"[[[","b":[[1]]}', 2), 18);
    // A string ending in an escaped backslash ends at its quote; one with an escaped quote after one does not.
    assert.equal(nestingPastLimit('{"a":"x\\\\","b":[[1]]}', 2), 16);
    assert.equal(nestingPastLimit('{"a":"\\\\\\"[[","b":[[1]]}', 2), 19);
    assert.equal(nestingPastLimit('{"a":"[[[[', 2), null, 'unterminated: left to JSON.parse');
    assert.doesNotThrow(() => parseReportJson(nestedReport(MAX_JSON_DEPTH - 1)));
    assert.throws(
      () => parseReportJson(nestedReport(MAX_JSON_DEPTH)),
      (e: unknown) => e instanceof ReportInputError && e.reason === 'json-too-deep' && /more than 64 levels/.test(e.detail),
    );
  });

  it('skips the character pass only when there are too few brackets to nest past the limit', () => {
    const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
    assert.equal(openingsAtMost(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH), true);
    assert.equal(openingsAtMost(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH), false);
    assert.equal(openingsAtMost(`{"a":[${'{},'.repeat(40)}{}],"b":"${'['.repeat(30)}"}`, MAX_JSON_DEPTH), false);
    assert.deepEqual(parseReportJson(Buffer.from(nested(MAX_JSON_DEPTH))), JSON.parse(nested(MAX_JSON_DEPTH)));
    assert.throws(
      () => parseReportJson(Buffer.from(nested(MAX_JSON_DEPTH + 1))),
      (e: unknown) => e instanceof ReportInputError && e.reason === 'json-too-deep',
    );
  });

  describe('through the pipeline', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ REPORT_MAX_BYTES: '4MiB' });
    });
    after(() => h?.close());

    it('a report with an unknown key nested 100,000 levels is quarantined as json-too-deep at once', async () => {
      const sent = await smtpSend(h.receiver.port, buildReportMail({ report: nestedReport(100_000) }));
      assert.equal(sent.code, 250, sent.response);
      const msg = await h.settled(queuedId(sent.response));
      assert.equal(msg.status, 'quarantined');
      assert.equal(msg.reason, 'json-too-deep');
      const attempts = await h.db.pool.query(`SELECT attempts FROM raw_messages WHERE id = $1`, [queuedId(sent.response)]);
      assert.ok(attempts.rows[0].attempts <= 1, 'refused on the first attempt, not after retries');
    });

    it('a report with a 60-level extension is stored', async () => {
      const sent = await smtpSend(h.receiver.port, buildReportMail({ report: nestedReport(60) }));
      const msg = await h.settled(queuedId(sent.response));
      assert.equal(msg.status, 'stored', msg.detail ?? '');
    });
  });
});
