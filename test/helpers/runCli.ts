/**
 * Runs the real `tlsrpt` command in a child process (tsx, as `npm run tlsrpt` does), with the environment a
 * user would set, and returns what it printed and its exit status.
 */
import { execFile } from 'node:child_process';
import { projectPath } from '../../src/util/projectPath.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      projectPath('node_modules', '.bin', 'tsx'),
      [projectPath('src', 'cli', 'main.ts'), ...args],
      {
        cwd: projectPath(),
        // Only what the command needs: no inherited DATABASE_URL or REDIS_URL from the developer's shell.
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', ...env },
        maxBuffer: 16 * 1024 * 1024,
        timeout: 60_000,
      },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number') return reject(err);
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
      },
    );
  });
}
