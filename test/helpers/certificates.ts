/** Self-signed certificates made with the openssl command, for HTTPS and STARTTLS tests. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
}

export interface CertificateOptions {
  /** DNS names of the subjectAltName (none by default: the common name only). */
  altNames?: string[];
  /** Validity in days (2 by default). */
  days?: number;
  /** `rsa` (RSA-2048, the default) or `ec` (P-256, as modern MTAs and the bench use). */
  key?: 'rsa' | 'ec';
}

export function makeCertificate(commonName: string, options: CertificateOptions = {}): CertificatePair {
  const { altNames = [], days = 2, key = 'rsa' } = options;
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        ...(key === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048']),
        '-nodes',
        '-days',
        String(days),
        '-subj',
        `/CN=${commonName}`,
        ...(altNames.length ? ['-addext', `subjectAltName=${altNames.map((n) => `DNS:${n}`).join(',')}`] : []),
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The common name of the certificate a TLS server presents to a new connection. */
export function servedCommonName(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.end();
      resolve(Array.isArray(cn) ? cn.join(',') : (cn ?? ''));
    });
    socket.on('error', reject);
  });
}

export interface ServedCertificate {
  /** "DNS:a.example, DNS:b.example" as Node prints it. */
  subjectAltName: string;
  commonName: string;
  fingerprint256: string;
  /** Whether the chain verified against `ca` for `servername` (false without a CA). */
  authorized: boolean;
}

/**
 * The certificate a TLS server presents to a new connection that asks for `servername` by SNI (none: no SNI
 * is sent, as when a client connects by address). With `ca`, the chain and the name are verified too.
 */
export function servedCertificate(port: number, options: { servername?: string; ca?: Buffer } = {}): Promise<ServedCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      {
        host: '127.0.0.1',
        port,
        rejectUnauthorized: false,
        ...(options.servername ? { servername: options.servername } : {}),
        ...(options.ca ? { ca: options.ca } : {}),
        // The name to verify is the one asked for, not the address connected to.
        checkServerIdentity: (_host, cert) => (options.servername ? tls.checkServerIdentity(options.servername, cert) : undefined),
      },
      () => {
        const cert = socket.getPeerCertificate();
        const cn = cert.subject?.CN;
        const result = {
          subjectAltName: cert.subjectaltname ?? '',
          commonName: Array.isArray(cn) ? cn.join(',') : (cn ?? ''),
          fingerprint256: cert.fingerprint256,
          authorized: Boolean(options.ca) && socket.authorized,
        };
        socket.end();
        resolve(result);
      },
    );
    socket.on('error', reject);
  });
}
