import { readdirSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const REAL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'real');

export function realFixture(name: string): Buffer {
  return readFileSync(join(REAL_DIR, name));
}

export function realFixtureNames(filter: (name: string) => boolean = () => true): string[] {
  return readdirSync(REAL_DIR)
    .filter((f) => f !== 'PROVENANCE.md')
    .filter(filter)
    .sort();
}

/** The report JSON inside a real fixture file (.json as is, .json.gz decompressed). */
export function realJson(name: string): unknown {
  const b = realFixture(name);
  return JSON.parse((name.endsWith('.gz') ? gunzipSync(b) : b).toString('utf8'));
}
