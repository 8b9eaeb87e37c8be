/** Every error raised on purpose is a TlsrptError with its family's code, and one policy maps errors to exit statuses. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DeliveryError } from '../../src/alert/deliver/deliveryError.js';
import {
  COMMANDER_USAGE_CODES,
  ConfigError,
  EXIT_STATUS,
  ReportInputError,
  TlsrptError,
  USAGE_ERRORS,
  UsageError,
  exitStatusFor,
} from '../../src/errors.js';
import { PolicyInputError } from '../../src/policy/policyErrors.js';
import { HttpRefusal } from '../../src/http/httpReplies.js';

const cause = new Error('the cause');

it('each family raises a TlsrptError whose code is its registry code, with the cause kept', () => {
  const cases: Array<[TlsrptError, string]> = [
    [new UsageError('option-invalid', '--limit "x" is not a whole number', { cause }), 'option-invalid'],
    [new ReportInputError('gzip-corrupt', 'truncated', { cause }), 'gzip-corrupt'],
    [new HttpRefusal('storage-unavailable', undefined, {}, { cause }), 'storage-unavailable'],
    [new DeliveryError('timeout', 'no answer', false, { cause }), 'timeout'],
    [new PolicyInputError('policy-unreadable', 'cannot read "x"', { cause }), 'policy-unreadable'],
    [new ConfigError('LOG_LEVEL', '"loud" is not a level', { cause }), 'config-invalid'],
  ];
  for (const [err, code] of cases) {
    assert.ok(err instanceof TlsrptError, err.name);
    assert.equal(err.code, code, err.name);
    assert.equal(err.cause, cause, err.name);
  }
});

it('keeps the messages people and tests already read', () => {
  assert.equal(new ReportInputError('json-invalid', 'unexpected end').message, 'json-invalid: unexpected end');
  assert.equal(new ConfigError('LOG_LEVEL', '"loud" is not a level').message, 'LOG_LEVEL: "loud" is not a level');
  assert.deepEqual(new HttpRefusal('metrics-forbidden').body().error, 'metrics-forbidden');
});

it('exit status: 2 for usage and configuration, 1 for anything else that ends a command', () => {
  assert.deepEqual(EXIT_STATUS, { ok: 0, failure: 1, usage: 2 });
  assert.equal(exitStatusFor(new UsageError('argument-missing', 'give a DOMAIN')), 2);
  assert.equal(exitStatusFor(new ConfigError('DATABASE_URL', 'not a URL')), 2);
  assert.equal(exitStatusFor(new PolicyInputError('domain-invalid', 'not a domain')), 1);
  assert.equal(exitStatusFor(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), 1);
  assert.equal(exitStatusFor('a string'), 1);
});

it('maps every commander error that is a usage error to a usage code', () => {
  for (const code of Object.values(COMMANDER_USAGE_CODES)) assert.ok(Object.hasOwn(USAGE_ERRORS, code), code);
  assert.equal(COMMANDER_USAGE_CODES['commander.unknownOption'], 'option-unknown');
});
