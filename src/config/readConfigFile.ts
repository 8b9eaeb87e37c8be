/**
 * The configuration file (TLSRPT_CONFIG, or `--config FILE`): YAML whose keys are the variables' own names,
 * a YAML list where a variable takes a list, a scalar for the rest:
 *
 *   DATABASE_URL: postgresql://tlsrpt@db.example.com/tlsrpt
 *   MTA_STS_DOMAINS:
 *     - example.com
 *     - example.org
 *
 * Read with the failsafe schema, so every scalar is the string as written ("0800" stays "0800", "on" stays
 * "on") and the variable's own parser decides, exactly as for the environment. Mistakes are ConfigErrors
 * naming TLSRPT_CONFIG, the file and the line: an unknown key names the nearest known one, because a typo
 * would otherwise silently leave the default in force.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { VARIABLES, VARIABLE_NAMES, isVariableName, type VariableName } from './variables.js';

export interface FileSetting {
  readonly value: string | readonly string[];
  /** 1-based line of the key, for messages. */
  readonly line: number;
}

export interface ConfigFile {
  readonly path: string;
  readonly settings: ReadonlyMap<VariableName, FileSetting>;
}

export function readConfigFile(path: string): ConfigFile {
  const fail = (line: number | null, message: string): never => {
    throw new ConfigError('TLSRPT_CONFIG', `${path}${line ? `:${line}` : ''}: ${message}`);
  };
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch (err) {
    return fail(null, `cannot read the configuration file: ${(err as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(source, { schema: 'failsafe', lineCounter: lines, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const message = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    return fail(first.linePos?.[0].line ?? null, `not valid YAML: ${message}`);
  }

  const settings = new Map<VariableName, FileSetting>();
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === '')) return { path, settings }; // an empty file sets nothing
  if (!isMap(root)) return fail(1, 'expected a mapping of variable names to values, e.g. "SMTP_PORT: 25"');
  for (const pair of root.items) {
    const line = isScalar(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]).line : null;
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!isVariableName(key)) {
      const near = nearestName(key);
      return fail(
        line,
        `unknown key "${key}"${near ? ` (did you mean ${near}?)` : ''}; keys are the variable names in README "Configuration"`,
      );
    }
    const spec = VARIABLES[key];
    if (spec.envOnly) return fail(line, `${key} cannot be set in the file: it is read from the environment only`);
    const node = pair.value;
    if (node === null || (isScalar(node) && node.value === '')) continue; // "KEY:" with no value: unset, as an empty variable
    if (isScalar(node)) {
      settings.set(key, { value: String(node.value), line: line ?? 0 });
    } else if (isSeq(node)) {
      if (!spec.list) return fail(line, `${key} takes one value, not a list`);
      const items: string[] = [];
      for (const item of node.items) {
        if (!isScalar(item)) return fail(line, `${key}: every item of the list must be a single value`);
        items.push(String(item.value));
      }
      settings.set(key, { value: items, line: line ?? 0 });
    } else {
      return fail(line, `${key} must be ${spec.list ? 'a value or a list of values' : 'a single value'}, not a mapping`);
    }
  }
  return { path, settings };
}

/** The known variable closest to a misspelt one (edit distance at most a third of its length), or null. */
function nearestName(key: string): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  const upper = key.toUpperCase();
  for (const name of VARIABLE_NAMES) {
    const d = editDistance(upper, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
