/**
 * A hash of what the dashboard pages are built from (src/ui/ and the uPlot version), written by the build
 * into dist-ui/build-info.json, so a test can tell that the committed build is older than its sources.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectPath } from '../util/projectPath.js';

export function uiSourceHash(root = projectPath()): string {
  const dir = join(root, 'src', 'ui');
  const hash = createHash('sha256');
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
  // Line endings normalised: a checkout with CRLF builds the same pages.
  for (const f of files) hash.update(f).update(readFileSync(join(dir, f), 'utf8').replace(/\r\n/g, '\n'));
  const uplot = JSON.parse(readFileSync(join(root, 'node_modules', 'uplot', 'package.json'), 'utf8')) as { version: string };
  hash.update(`uplot@${uplot.version}`);
  return hash.digest('hex');
}
