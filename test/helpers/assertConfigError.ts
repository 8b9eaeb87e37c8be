import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';

/** `fn` fails at start with a ConfigError that names `variable` and says `message`. */
export function assertConfigError(fn: () => unknown, variable: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.variable, variable);
    assert.match(err.message, message);
    return true;
  });
}
