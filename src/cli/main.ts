#!/usr/bin/env node
/**
 * The `tlsrpt` bin: runs the command line with this process's environment and streams (runTlsrpt), then
 * ends with its exit status. A long-running service (serve, receiver, worker, http) keeps the process up
 * until a signal stops it (src/services/lifecycle.ts).
 */
import { startTlsrpt } from './runTlsrpt.js';

const run = await startTlsrpt(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  // Read lazily: creating process.stdin for a command that never reads it would hold a terminal open.
  get stdin() {
    return process.stdin;
  },
});
process.exitCode = run.code;
// A failed one-shot command ends at once, even if a library left a timer or socket behind (a successful one
// ends when its work is done). Standard output and error are synchronous for files and pipes on POSIX.
if (!run.keepsRunning && run.code !== 0) process.exit(run.code);
