/**
 * Keeps the HTTPS server's certificate current: TLS_CERT/TLS_KEY are re-read when the files change (polled,
 * so a renewal that swaps a symlink is seen too) and on reload() (SIGHUP), without dropping connections.
 * A pair that does not load (a key that does not match its certificate, one file renewed and the other not
 * yet) is refused and the pair in service stays.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import type { Metrics } from '../metrics/createMetrics.js';

export type TlsReloadResult = 'reloaded' | 'unchanged' | 'failed' | 'not-https';

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface TlsReloader {
  /** Re-reads the files and serves them to new connections if they changed and form a valid pair. */
  reload(): Promise<TlsReloadResult>;
  /** Starts polling the files for changes. */
  watch(intervalMs: number): void;
  unwatch(): void;
}

export const TLS_MIN_VERSION = 'TLSv1.2';

export function createTlsReloader(
  tls: TlsMaterial,
  server: () => HttpsServer | undefined,
  deps: { log: Logger; metrics: Pick<Metrics, 'tlsReloads' | 'setCertificateExpiry'> },
): TlsReloader {
  const { log, metrics } = deps;
  let served = { cert: tls.cert, key: tls.key };
  setCertificateExpiry(served.cert);

  function setCertificateExpiry(cert: Buffer): void {
    let validTo: string;
    try {
      validTo = new X509Certificate(cert).validTo;
    } catch (err) {
      // The TLS context accepted the pair, so this is a certificate Node can serve but not describe: the
      // expiry gauge keeps its last value rather than stopping the server.
      log.warn(
        { err: errorMessage(err), cert: tls.certPath },
        'TLS certificate expiry not readable; tlsrpt_tls_certificate_expiry not updated',
      );
      return;
    }
    metrics.setCertificateExpiry(Math.floor(Date.parse(validTo) / 1000));
  }

  const reloadOnce = async (): Promise<TlsReloadResult> => {
    const https = server();
    if (!https) return 'not-https';
    let cert: Buffer;
    let key: Buffer;
    try {
      [cert, key] = await Promise.all([readFile(tls.certPath), readFile(tls.keyPath)]);
      if (cert.equals(served.cert) && key.equals(served.key)) return 'unchanged';
      // Builds a context first: a key that does not match the certificate throws here, and the pair in
      // service stays.
      createSecureContext({ cert, key, minVersion: TLS_MIN_VERSION });
    } catch (err) {
      metrics.tlsReloads.inc({ result: 'failed' });
      log.warn(
        { err: errorMessage(err), cert: tls.certPath, key: tls.keyPath },
        'TLS certificate not reloaded; still serving the previous one',
      );
      return 'failed';
    }
    https.setSecureContext({ cert, key, minVersion: TLS_MIN_VERSION });
    served = { cert, key };
    setCertificateExpiry(cert);
    metrics.tlsReloads.inc({ result: 'reloaded' });
    log.info({ cert: tls.certPath }, 'TLS certificate reloaded');
    return 'reloaded';
  };

  // One reload at a time, each after the one before: a call then reads the files as they are when its turn
  // comes, never a result read before its caller's change (the file watcher racing a SIGHUP).
  let lastReload: Promise<TlsReloadResult> = Promise.resolve('unchanged');
  const reload = (): Promise<TlsReloadResult> => (lastReload = lastReload.then(reloadOnce, reloadOnce));

  // reload() never rejects (reloadOnce catches what it can fail on), so nothing is left unhandled here.
  const onFileChange = () => void reload();
  let watching = false;

  return {
    reload,
    watch(intervalMs) {
      if (watching) return;
      // Polling (stat) rather than fs.watch: it also sees a renewal that repoints a symlink (certbot's live/).
      watchFile(tls.certPath, { interval: intervalMs, persistent: false }, onFileChange);
      watchFile(tls.keyPath, { interval: intervalMs, persistent: false }, onFileChange);
      watching = true;
    },
    unwatch() {
      if (!watching) return;
      unwatchFile(tls.certPath, onFileChange);
      unwatchFile(tls.keyPath, onFileChange);
      watching = false;
    },
  };
}
