/**
 * Child process of the ingest scenario: runs `tlsrpt ingest --format json` in-process (runTlsrpt, exactly as
 * the command runs) and prints its wall time, the summary counts and its own peak RSS. A fresh process, so
 * the figure is the backfill's, not the bench's.
 * Usage: tsx bench/scenarios/ingestProbe.ts <path>   (DATABASE_URL etc. in the environment)
 */
import { Readable, Writable } from 'node:stream';
import { runTlsrpt } from '../../src/cli/runTlsrpt.js';

const [path] = process.argv.slice(2);
let stdout = '';
let stderr = '';
const sink = (append: (s: string) => void) =>
  new Writable({
    write(chunk: Buffer, _enc, done) {
      append(chunk.toString());
      done();
    },
  });
const start = Date.now();
const code = await runTlsrpt(['ingest', path!], {
  env: process.env,
  stdout: sink((s) => (stdout += s)),
  stderr: sink((s) => (stderr += s)),
  stdin: Readable.from([]),
});
const seconds = (Date.now() - start) / 1000;
const count = (label: string) => Number(new RegExp(`^\\s+${label}\\s+(\\d+)`, 'm').exec(stdout)?.[1] ?? NaN);
process.stdout.write(
  JSON.stringify({
    code,
    seconds,
    messages: Number(/^Read (\d+) message/m.exec(stdout)?.[1] ?? NaN),
    stored: count('stored'),
    quarantined: count('quarantined'),
    tooLarge: count('too large') || 0,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    // User + system CPU of this process (the command and the probe around it, which does next to nothing).
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    summary: stdout,
    stderr: stderr.slice(-2000),
  }) + '\n',
);
