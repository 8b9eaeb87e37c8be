/**
 * README "Alerts" is the administrator's manual for alerting: every ALERT_* variable, every delivery error
 * code and every result-type explanation the code can produce is in it, word for word where it is a table
 * row generated from the code's own table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { DELIVERY_ERRORS } from '../../src/alert/deliver/deliveryError.js';
import { NO_FAILURE_DETAILS, NO_FAILURE_DETAILS_INFO } from '../../src/alert/decide/evaluateWindow.js';
import { VARIABLES, VARIABLE_NAMES } from '../../src/config/variables.js';
import { RESULT_TYPES } from '../../src/resultTypes.js';
import { projectPath } from '../../src/util/projectPath.js';

// Markdown would swallow "<domain>" as an HTML tag, so the README writes it escaped.
const readme = readFileSync(projectPath('README.md'), 'utf8').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
const rows = new Set(readme.split('\n').filter((l) => l.startsWith('| `')));

it('documents every alert variable in the configuration table', () => {
  for (const name of VARIABLE_NAMES.filter((n) => VARIABLES[n].section === 'alerts')) {
    assert.ok(
      [...rows].some((r) => r.startsWith(`| \`${name}\` |`)),
      `README lacks ${name}`,
    );
  }
});

it('documents every delivery error code with the text the code uses', () => {
  for (const [code, text] of Object.entries(DELIVERY_ERRORS)) {
    const row = `| \`${code}\` | ${text.replace('ALERT_SEND_TIMEOUT_SECONDS', '`ALERT_SEND_TIMEOUT_SECONDS`').replace('ALERT_EMAIL_SMTP_URL', '`ALERT_EMAIL_SMTP_URL`')} |`;
    assert.ok(rows.has(row), `README row for ${code} differs from src/alert/deliver/deliveryError.ts:\n${row}`);
  }
});

it('explains every result type exactly as the alerts and the CLI do', () => {
  const table = { ...RESULT_TYPES, [NO_FAILURE_DETAILS]: NO_FAILURE_DETAILS_INFO };
  for (const [type, info] of Object.entries(table)) {
    const row = `| \`${type}\` | ${info.meaning} | ${info.fix} |`;
    assert.ok(rows.has(row), `README row for ${type} differs from src/resultTypes.ts:\n${row}`);
  }
});
