/** What every set of served certificates shows the metrics (README "Metrics": the tlsrpt_tls_certificate_* series). */
import type { CertificateUse } from './keyPair.js';

/** 'not-https': the HTTP server is plain, there is nothing to reload. */
export type TlsReloadResult = 'reloaded' | 'unchanged' | 'failed' | 'not-https';
export type TlsCheckResult = Exclude<TlsReloadResult, 'not-https'>;

/** Why the files are read: a SIGHUP logs every refusal, a periodic check only a new one. */
export type TlsCheckTrigger = 'signal' | 'poll';

export interface CertificateSource {
  readonly use: CertificateUse;
  /** Every certificate in service: a file path or a certbot folder name, and when it expires (Unix seconds). */
  served(): ReadonlyArray<{ certificate: string; notAfter: number }>;
  /** Changed pairs taken into service, and refused, since the start. */
  readonly reloads: { readonly reloaded: number; readonly failed: number };
}

/** Several checks' results as one: failed if any failed, else reloaded if any reloaded. */
export function combineResults(results: readonly TlsCheckResult[]): TlsCheckResult {
  if (results.includes('failed')) return 'failed';
  return results.includes('reloaded') ? 'reloaded' : 'unchanged';
}
