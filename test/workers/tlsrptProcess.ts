/**
 * A `tlsrpt` command as a real child process for the process tests: its JSON log lines collected as they
 * arrive, waits on a log line (never a fixed sleep), and the probes those tests share.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { projectPath } from '../../src/util/projectPath.js';
import { waitFor } from '../helpers/waitFor.js';

export type LogLine = Record<string, unknown> & { msg?: string };

export interface TlsrptProcess {
  child: ChildProcess;
  lines: LogLine[];
  /** Every raw stdout line, for length checks. */
  rawLines: string[];
  stderr(): string;
  /** The first log line from index `from` on that satisfies `match` (a message, or a predicate). */
  waitForLog(match: string | ((l: LogLine) => boolean), from?: number, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<number | null>;
  /** SIGKILL if still running, then waits for the exit. */
  kill(): Promise<void>;
}

export function startTlsrpt(args: string[], env: Record<string, string>): TlsrptProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', projectPath('src/cli/main.ts'), ...args], {
    cwd: projectPath(),
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: LogLine[] = [];
  const rawLines: string[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const p of parts) {
      if (!p.trim()) continue;
      rawLines.push(p);
      lines.push(JSON.parse(p) as LogLine);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    rawLines,
    stderr: () => stderr,
    waitForLog(match, from = 0, timeoutMs = 30_000) {
      const test = typeof match === 'string' ? (l: LogLine) => l.msg === match : match;
      return waitFor(
        `log line ${String(match)} (stderr: ${stderr})`,
        async () => {
          if (child.exitCode !== null) throw new Error(`the process exited with ${child.exitCode}: ${stderr}`);
          return lines.slice(from).find(test);
        },
        timeoutMs,
      );
    },
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** GET over plain HTTP with a Host header of our choice (hosted MTA-STS policies are chosen by it). */
export function httpGet(port: number, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The common name of the certificate an SMTP server offers after STARTTLS. */
export function starttlsCommonName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let step: 'greeting' | 'ehlo' | 'starttls' = 'greeting';
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(10_000, () => fail(new Error('SMTP STARTTLS probe timed out')));
    socket.on('error', fail);
    const onData = (d: Buffer) => {
      text += d.toString();
      // A reply is complete when its last line is "NNN " (a space, not "-", after the code).
      if (!/^\d{3} .*\r\n$/m.test(text.split(/\r\n(?=.)/).at(-1) ?? '')) return;
      const reply = text;
      text = '';
      if (step === 'greeting') {
        step = 'ehlo';
        socket.write('EHLO probe.test\r\n');
      } else if (step === 'ehlo') {
        step = 'starttls';
        socket.write('STARTTLS\r\n');
      } else {
        if (!reply.startsWith('220')) return fail(new Error(`STARTTLS refused: ${reply}`));
        socket.off('data', onData);
        const secure = tls.connect({ socket, rejectUnauthorized: false }, () => {
          const cn = secure.getPeerCertificate().subject?.CN;
          secure.destroy();
          resolve(Array.isArray(cn) ? cn.join(',') : (cn ?? ''));
        });
        secure.on('error', fail);
      }
    };
    socket.on('data', onData);
  });
}
