/**
 * A certificate pair in service (SMTP_TLS_*, HTTP_TLS_* or TLS_*), read again by check(): on SIGHUP and every
 * TLS_RELOAD_CHECK_SECONDS. The files' contents are compared, not their modification times, so a renewal that
 * repoints a symlink (certbot's live/) is seen as surely as one that rewrites the file. A pair that does not
 * load (half written, a key from another pair) is refused with the reason logged, and the one in service stays.
 */
import type { Logger } from 'pino';
import type { TlsPairConfig } from '../config/loadConfig.js';
import { errorMessage } from '../errors.js';
import { buildKeyPair, readPairFiles, type CertificateUse, type KeyPair } from './keyPair.js';
import type { CertificateSource, TlsCheckResult, TlsCheckTrigger } from './certificateSource.js';

export interface ServedPair extends CertificateSource {
  current(): KeyPair;
  /** Reads the files; serves them (through `apply`) when they changed and form a valid pair. */
  check(trigger: TlsCheckTrigger): Promise<TlsCheckResult>;
}

/**
 * `pair` as loaded with the configuration; `apply` hands a new pair to the server and may throw (the server
 * refused it), which counts as failed. Throws at once when the pair in the configuration does not load.
 */
export function createServedPair(use: CertificateUse, pair: TlsPairConfig, apply: (next: KeyPair) => void, log: Logger): ServedPair {
  let served = buildKeyPair(pair.cert, pair.key);
  const reloads = { reloaded: 0, failed: 0 };
  let lastRefusal: string | null = null;

  const refuse = (trigger: TlsCheckTrigger, message: string, reason: string): TlsCheckResult => {
    // Counted and logged once per refused change (and per SIGHUP), not at every periodic check that finds the
    // same broken files again.
    if (trigger === 'signal' || message !== lastRefusal) {
      reloads.failed += 1;
      log.warn({ use, reason, err: message, cert: pair.certPath, key: pair.keyPath }, notReloaded(use));
    }
    lastRefusal = message;
    return 'failed';
  };

  return {
    use,
    reloads,
    current: () => served,
    served: () => [{ certificate: pair.certPath, notAfter: served.notAfter }],
    async check(trigger) {
      let next: KeyPair;
      try {
        const { cert, key } = await readPairFiles(pair.certPath, pair.keyPath);
        if (cert.equals(served.cert) && key.equals(served.key)) {
          lastRefusal = null;
          return 'unchanged';
        }
        next = buildKeyPair(cert, key);
      } catch (err) {
        return refuse(trigger, errorMessage(err), (err as { reason?: string }).reason ?? 'certificate-invalid');
      }
      try {
        apply(next);
      } catch (err) {
        return refuse(trigger, errorMessage(err), 'certificate-invalid');
      }
      served = next;
      lastRefusal = null;
      reloads.reloaded += 1;
      log.info({ use, cert: pair.certPath }, `${label(use)} certificate reloaded`);
      return 'reloaded';
    },
  };
}

// The words of the log lines README "Reloading without a restart" names, kept as they were.
function label(use: CertificateUse): string {
  return use === 'smtp' ? 'STARTTLS' : 'TLS';
}

function notReloaded(use: CertificateUse): string {
  return use === 'smtp'
    ? 'STARTTLS certificate not reloaded; still offering the previous one'
    : 'TLS certificate not reloaded; still serving the previous one';
}
