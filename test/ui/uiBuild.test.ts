/**
 * The committed build of the dashboard pages (dist-ui/) is the build of the committed sources, and small:
 * the compressed JavaScript of the pages stays under 300 KB (issue 16's target).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { uiSourceHash } from '../../src/api/uiSourceHash.js';
import { projectPath } from '../../src/util/projectPath.js';

const DIST = projectPath('dist-ui');

describe('dashboard build (dist-ui/)', () => {
  it('was built from the sources in src/ui/', () => {
    const info = JSON.parse(readFileSync(join(DIST, 'build-info.json'), 'utf8')) as { sources: string };
    assert.equal(info.sources, uiSourceHash(), 'dist-ui/ is older than src/ui/: run "npm run build:ui" and commit dist-ui/');
  });

  it('serves under 300 KB of compressed JavaScript', () => {
    const js = readdirSync(join(DIST, 'assets')).filter((f) => f.endsWith('.js'));
    assert.ok(js.length > 0);
    const bytes = js.reduce((n, f) => n + gzipSync(readFileSync(join(DIST, 'assets', f))).length, 0);
    assert.ok(bytes < 300 * 1024, `${bytes} bytes of gzip-compressed JavaScript`);
  });
});
