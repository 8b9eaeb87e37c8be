/**
 * Builds the dashboard pages (src/ui/) into dist-ui/, served at /ui/ by src/api/uiRoutes.ts. Run with
 * `npm run build:ui`; the output is committed (README "Dashboard" says why). A .gz copy of each file is
 * written beside it for @fastify/static's preCompressed, so the server sends compressed files without
 * compressing on each request. build-info.json records the hash of the sources (src/api/uiSourceHash.ts).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import { uiSourceHash } from '../api/uiSourceHash.js';

const outDir = join(import.meta.dirname, '../../dist-ui');

function gzipCopies(): Plugin {
  return {
    name: 'gzip-copies',
    apply: 'build',
    closeBundle() {
      for (const entry of readdirSync(outDir, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || !/\.(js|css|html|svg)$/.test(entry.name)) continue;
        const path = join(entry.parentPath, entry.name);
        writeFileSync(`${path}.gz`, gzipSync(readFileSync(path), { level: 9 }));
      }
      writeFileSync(
        join(outDir, 'build-info.json'),
        `${JSON.stringify({ sources: uiSourceHash(join(import.meta.dirname, '../..')) }, null, 2)}\n`,
      );
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: '/ui/',
  build: { outDir, emptyOutDir: true, sourcemap: false, target: 'es2022', reportCompressedSize: true },
  plugins: [gzipCopies()],
});
