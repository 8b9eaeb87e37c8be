/**
 * `tlsrpt health --smtp/--http`: does this configuration's own listener answer? A container health check runs
 * in a process of its own beside the service, so it cannot look inside it; what it can do, without curl or
 * swaks in the image, is what a sender does first: read the SMTP greeting, or GET /healthz.
 */
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../config/loadConfig.js';
import { errorMessage } from '../errors.js';

export interface ProbeResult {
  name: 'smtp' | 'http';
  ok: boolean;
  detail: string;
}

const PROBE_TIMEOUT_MS = 3000;

/** A wildcard listen address is probed on loopback, where the health check runs. */
function probeHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host.replace(/^\[|\]$/g, '');
}

/** Connects to SMTP_HOST:SMTP_PORT and reads the greeting: healthy on a 220 (RFC 5321 4.2). */
export function probeSmtp(config: Config): Promise<ProbeResult> {
  const host = probeHost(config.smtp.host);
  const where = `${host}:${config.smtp.port}`;
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: config.smtp.port });
    let greeting = '';
    const done = (ok: boolean, detail: string) => {
      socket.destroy();
      resolve({ name: 'smtp', ok, detail });
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false, `${where}: no greeting within ${PROBE_TIMEOUT_MS} ms`));
    socket.on('error', (err) => done(false, `${where}: ${errorMessage(err)}`));
    socket.on('data', (chunk: Buffer) => {
      greeting += chunk.toString('latin1');
      if (!greeting.includes('\n')) return;
      const line = greeting.split(/\r?\n/)[0]!;
      if (line.startsWith('220')) socket.end('QUIT\r\n');
      done(line.startsWith('220'), `${where}: ${line.slice(0, 120)}`);
    });
  });
}

/** GET /healthz on HTTP_HOST:HTTP_PORT, over HTTPS when the server speaks it (the certificate is not checked: this is liveness on loopback, not trust). */
export function probeHttp(config: Config): Promise<ProbeResult> {
  const host = probeHost(config.http.host);
  const scheme = config.http.tls ? 'https' : 'http';
  const where = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${config.http.port}/healthz`;
  return new Promise((resolve) => {
    const options = { host, port: config.http.port, path: '/healthz', timeout: PROBE_TIMEOUT_MS };
    const request = config.http.tls ? https.get({ ...options, rejectUnauthorized: false }) : http.get(options);
    request.on('response', (response) => {
      response.resume();
      const ok = response.statusCode === 200;
      resolve({ name: 'http', ok, detail: `${where}: ${response.statusCode}` });
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)));
    request.on('error', (err) => resolve({ name: 'http', ok: false, detail: `${where}: ${errorMessage(err)}` }));
  });
}
