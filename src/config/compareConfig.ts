/**
 * What changed between two configurations, variable by variable (the values as read, so a renamed file is a
 * change and an edited file is not: the services compare the files' contents themselves). Secret values are
 * never part of the answer, only the fact that they changed.
 */
import { describeValue } from './describeConfig.js';
import type { Config } from './loadConfig.js';
import { VARIABLES, VARIABLE_NAMES, type ReloadGroup, type VariableName } from './variables.js';

export interface ConfigChange {
  readonly name: VariableName;
  /** How a running process takes the change (variables.ts): `restart` means it does not. */
  readonly reload: ReloadGroup;
  /** As `tlsrpt config` shows them; "(secret)" for secret variables. */
  readonly from: unknown;
  readonly to: unknown;
}

export function compareConfig(before: Config, after: Config): ConfigChange[] {
  const changes: ConfigChange[] = [];
  for (const name of VARIABLE_NAMES) {
    const a = before.values[name];
    const b = after.values[name];
    if (JSON.stringify(a) === JSON.stringify(b)) continue;
    const secret = VARIABLES[name].secret;
    changes.push({
      name,
      reload: VARIABLES[name].reload,
      from: secret ? '(secret)' : describeValue(name, a),
      to: secret ? '(secret)' : describeValue(name, b),
    });
  }
  return changes;
}
