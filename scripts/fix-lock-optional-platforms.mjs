#!/usr/bin/env node
// The npm registry mirror this project is built against serves only the Linux builds of msgpackr-extract
// (an optional native helper of msgpackr, which BullMQ uses), so `npm install` writes a lock without the
// other platforms' entries, and `npm ci` then refuses the lock as out of sync. This adds those entries,
// marked optional for their own os/cpu, which npm skips without fetching. Run it after `npm install`.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
const ref = packages['node_modules/@msgpackr-extract/msgpackr-extract-linux-x64'];
const platforms = {
  'darwin-arm64': ['darwin', 'arm64'],
  'darwin-x64': ['darwin', 'x64'],
  'linux-arm': ['linux', 'arm'],
  'linux-arm64': ['linux', 'arm64'],
  'win32-x64': ['win32', 'x64'],
};
let added = 0;
if (ref) {
  for (const [name, [os, cpu]] of Object.entries(platforms)) {
    const key = `node_modules/@msgpackr-extract/msgpackr-extract-${name}`;
    if (!packages[key]) {
      packages[key] = { version: ref.version, cpu: [cpu], license: 'MIT', optional: true, os: [os] };
      added++;
    }
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)),
);
writeFileSync(path, JSON.stringify(lock, null, 2) + '\n');
console.log(`package-lock.json: added ${added} optional platform entr${added === 1 ? 'y' : 'ies'}`);
