/** A repeating error is logged once, then as a count at most once per interval, and its end is logged too. */
import assert from 'node:assert/strict';
import { captureLog } from '../helpers/captureLog.js';
import { it } from 'node:test';
import { createRateLimitedLog } from '../../src/log/rateLimitedLog.js';

it('logs the first occurrence, then one line with the count per interval, then the end', () => {
  const { lines, log } = captureLog();
  let t = 0;
  const limited = createRateLimitedLog(log, 'redis connection error', { intervalMs: 60_000, now: () => t });
  // An hour of reconnection attempts every 5 s.
  for (t = 0; t < 3_600_000; t += 5000) limited.report(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
  assert.equal(lines.length, 60, 'one line a minute');
  assert.equal(lines[0]!.msg, 'redis connection error');
  assert.equal(lines[0]!.err, 'connect ECONNREFUSED 127.0.0.1:6379');
  assert.equal(lines[0]!.repeated, undefined);
  assert.equal(lines[1]!.repeated, 12, 'the count since the previous line, this one included');
  assert.equal(lines[1]!.sinceSeconds, 60);

  limited.settled('redis connection restored');
  assert.equal(lines.length, 61);
  assert.deepEqual([lines[60]!.msg, lines[60]!.occurrences, lines[60]!.unlogged], ['redis connection restored', 720, 11]);

  // The next outage starts with a line of its own.
  limited.report(new Error('again'));
  assert.equal(lines.length, 62);
  assert.equal(lines[61]!.repeated, undefined);
});

it('counts one error object once, however many listeners report it', () => {
  const { lines, log } = captureLog();
  const limited = createRateLimitedLog(log, 'x', { intervalMs: 0, now: () => 0 });
  const err = new Error('one');
  limited.report(err);
  limited.report(err);
  assert.equal(lines.length, 1);
});

it('says nothing on settling when nothing went wrong', () => {
  const { lines, log } = captureLog();
  createRateLimitedLog(log, 'x').settled('back');
  assert.equal(lines.length, 0);
});
