/**
 * The runner of `npm test`: every test file under test/, TEST_CONCURRENCY files at a time (default 4), the
 * slowest first. `node --test` sorts the files it is given by name, so test/workers/ (three of the slowest
 * files) started last and the suite ended waiting for them alone; run() keeps the order it is given.
 * Same reporter as `node --test` (spec on a terminal, TAP otherwise, whose summary CI reads), same exit status.
 *
 *   node --import tsx test/runTests.ts [file ...]    # the files given, in that order; none: every file
 */
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';
import { projectPath } from '../src/util/projectPath.js';

/**
 * The files that take longest, longest first (wall time of `node --import tsx --test FILE`, measured under
 * load: what counts is the order, not the figures). The others follow by name; test/testOrder.test.ts checks
 * that each one listed still exists. Move a file here when it becomes one of the slowest.
 */
export const SLOWEST_FIRST = [
  'test/imap/imapService.test.ts',
  'test/bench/smoke.test.ts',
  'test/workers/memoryUnderLoad.test.ts',
  'test/pipeline/diskFullOutage.test.ts',
  'test/workers/reloadProcess.test.ts',
  'test/receive/httpReceiver.test.ts',
  'test/cli/serveProcess.test.ts',
  'test/alert/alertsEndToEnd.test.ts',
  'test/pipeline/failureModes.test.ts',
  'test/db/dailyTotals.test.ts',
  'test/api/dashboardApi.test.ts',
  'test/imap/imapOnce.test.ts',
  'test/imap/imapProcess.test.ts',
  'test/ui/dashboard.test.ts',
  'test/store/storeReports.test.ts',
  'test/auth/reportAuthentication.test.ts',
  'test/workers/httpProcess.test.ts',
];

/** Every *.test.ts under test/, relative to the project, the slowest first. */
export function testFilesInOrder(): string[] {
  const root = projectPath();
  const files = readdirSync(projectPath('test'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
  const rank = (f: string) => {
    const i = SLOWEST_FIRST.indexOf(f);
    return i < 0 ? SLOWEST_FIRST.length : i;
  };
  return files.sort((a, b) => rank(a) - rank(b));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const given = process.argv.slice(2);
  const concurrency = Number(process.env.TEST_CONCURRENCY || 4);
  const files = given.length ? given.map((f) => resolve(f)) : testFilesInOrder().map((f) => projectPath(f));
  const stream = run({ files, concurrency });
  stream.on('test:fail', (failed) => {
    if (!failed.todo) process.exitCode = 1;
  });
  stream.compose(process.stdout.isTTY ? new spec() : tap).pipe(process.stdout);
}
