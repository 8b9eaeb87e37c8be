/**
 * One certificate chain with its private key, checked the way a TLS server would use it: the key must match
 * the certificate (createSecureContext refuses otherwise) and the certificate must parse, so a half-written
 * renewal or a key from another pair is caught before it replaces the pair in service.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext } from 'node:tls';
import { errorMessage } from '../errors.js';

/** Below TLS 1.2 nothing is offered, on every listener. */
export const TLS_MIN_VERSION = 'TLSv1.2';

/** What a certificate is served for: the `use` label of the certificate series (README "Metrics"). */
export type CertificateUse = 'smtp' | 'https' | 'mta-sts';

/** Why a pair was not taken into service: logged as `reason` (README "Certificates"). */
export type CertificateProblemReason = 'file-unreadable' | 'certificate-invalid' | 'key-mismatch' | 'no-dns-name';

export class CertificateProblem extends Error {
  override readonly name = 'CertificateProblem';
  constructor(
    readonly reason: CertificateProblemReason,
    message: string,
  ) {
    super(message);
  }
}

export interface KeyPair {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Built once, handed to every connection that gets this pair. */
  readonly context: SecureContext;
  /** The subjectAltName DNS names, lower-cased, wildcards as written ("*.example.com"). */
  readonly names: readonly string[];
  /** When the first certificate of the chain expires, in Unix seconds. */
  readonly notAfter: number;
}

/** Reads both files; a missing or unreadable one is a `file-unreadable` problem. */
export async function readPairFiles(certPath: string, keyPath: string): Promise<{ cert: Buffer; key: Buffer }> {
  const read = (path: string) =>
    readFile(path).catch((err: unknown) => {
      throw new CertificateProblem('file-unreadable', `cannot read ${path}: ${errorMessage(err)}`);
    });
  const [cert, key] = await Promise.all([read(certPath), read(keyPath)]);
  return { cert, key };
}

/** The pair ready to serve; throws a CertificateProblem saying what is wrong with it. */
export function buildKeyPair(cert: Buffer, key: Buffer): KeyPair {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new CertificateProblem('certificate-invalid', `the certificate does not parse (${errorMessage(err)}); is the file complete?`);
  }
  let context: SecureContext;
  try {
    context = createSecureContext({ cert, key, minVersion: TLS_MIN_VERSION });
  } catch (err) {
    const mismatch = (err as NodeJS.ErrnoException).code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH';
    throw new CertificateProblem(
      mismatch ? 'key-mismatch' : 'certificate-invalid',
      mismatch ? 'the private key does not match the certificate' : `the pair does not load (${errorMessage(err)})`,
    );
  }
  return { cert, key, context, names: dnsNames(x509), notAfter: Math.floor(Date.parse(x509.validTo) / 1000) };
}

/** "DNS:a.example, DNS:*.b.example, IP Address:192.0.2.1" → ["a.example", "*.b.example"]. */
function dnsNames(x509: X509Certificate): string[] {
  const san = x509.subjectAltName ?? '';
  return san
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
}
