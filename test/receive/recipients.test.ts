import assert from 'node:assert/strict';
import { it } from 'node:test';
import { isAcceptedRecipient } from '../../src/receive/recipients.js';

it('matches addresses, whole domains and sub-addresses; an empty list accepts all', () => {
  const accepted = ['tlsrpt@example.com', 'reports.example.org'];
  assert.equal(isAcceptedRecipient('tlsrpt@example.com', accepted), true);
  assert.equal(isAcceptedRecipient('TLSRPT@Example.COM', accepted), true);
  assert.equal(isAcceptedRecipient('tlsrpt+google@example.com', accepted), true);
  assert.equal(isAcceptedRecipient('anyone@reports.example.org', accepted), true);
  assert.equal(isAcceptedRecipient('postmaster@example.com', accepted), false);
  assert.equal(isAcceptedRecipient('tlsrpt@sub.reports.example.org', accepted), false);
  assert.equal(isAcceptedRecipient('not-an-address', accepted), false);
  assert.equal(isAcceptedRecipient('x@anything.example', []), true);
});
