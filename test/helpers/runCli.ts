/**
 * Runs the `tlsrpt` command as a user would, with only the environment a user would set (no inherited
 * DATABASE_URL or REDIS_URL from the developer's shell), and returns what it printed and its exit status.
 *
 * runCli runs it in this process (runTlsrpt, the function the bin calls), which saves the second a child
 * process costs to start. runCliProcess spawns the real bin from source, for what needs a process of its
 * own: signals, long-running services, the bin's own exit.
 */
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import type { OutputStream } from '../../src/cli/cliContext.js';
import { runTlsrpt } from '../../src/cli/runTlsrpt.js';
import { projectPath } from '../../src/util/projectPath.js';
import { loadFactor } from './waitFor.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function userEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env };
}

export async function runCli(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<CliResult> {
  const stdout = collector();
  const stderr = collector();
  const code = await runTlsrpt(args, {
    env: userEnv(env),
    stdout: stdout.stream,
    stderr: stderr.stream,
    stdin: Readable.from(stdin === undefined ? [] : [Buffer.from(stdin)]),
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

function collector(): { stream: OutputStream; text: () => string } {
  const chunks: Buffer[] = [];
  return {
    stream: { write: (chunk) => chunks.push(Buffer.from(chunk)), isTTY: false },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

export function runCliProcess(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', projectPath('src', 'cli', 'main.ts'), ...args], {
      cwd: projectPath(),
      env: userEnv(env),
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000 * loadFactor());
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    if (stdin !== undefined) child.stdin.end(stdin);
    else child.stdin.end();
  });
}
