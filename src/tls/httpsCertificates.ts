/**
 * The certificates of the HTTPS listener: the HTTP pair (HTTP_TLS_CERT/HTTP_TLS_KEY, else TLS_CERT/TLS_KEY)
 * and the certbot folder of MTA_STS_CERT_DIR. Each connection gets the folder's certificate for the name it
 * asks for (SNI), else the HTTP pair; a client that sends no name gets the HTTP pair.
 */
import type { Server as HttpsServer, ServerOptions } from 'node:https';
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { HttpConfig } from '../config/loadConfig.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { CertificateSource } from './certificateSource.js';
import { createCertificateDir, type CertificateDir } from './certificateDir.js';
import { TLS_MIN_VERSION } from './keyPair.js';
import { createServedPair, type ServedPair } from './servedPair.js';
import { createTlsReloader, type TlsReloader } from './tlsReloader.js';

export interface HttpsCertificates {
  /** The TLS options of https.createServer. */
  readonly serverOptions: ServerOptions;
  /** The server the HTTP pair is renewed on (setSecureContext, for clients that send no name). */
  attach(server: HttpsServer): void;
  readonly sources: readonly CertificateSource[];
  readonly reloader: TlsReloader;
}

/** Loads the pair and the folder; null when the server is plain HTTP. Throws a ConfigError when nothing is servable. */
export async function loadHttpsCertificates(http: HttpConfig, log: Logger): Promise<HttpsCertificates | null> {
  if (!http.tls) return null;
  let server: HttpsServer | null = null;
  let pair: ServedPair | null = null;
  try {
    pair = http.certificate
      ? createServedPair(
          'https',
          http.certificate,
          (next) => server?.setSecureContext({ cert: next.cert, key: next.key, minVersion: TLS_MIN_VERSION }),
          log,
        )
      : null;
  } catch (err) {
    throw new ConfigError(
      'HTTP_TLS_CERT',
      `the HTTPS pair ${http.certificate?.certPath} and ${http.certificate?.keyPath} (HTTP_TLS_CERT/HTTP_TLS_KEY, or TLS_CERT/TLS_KEY) does not load: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  const dir: CertificateDir | null = http.certificateDir ? createCertificateDir(http.certificateDir, log) : null;
  if (dir) {
    await dir.check('signal');
    if (dir.size() === 0 && !pair) {
      throw new ConfigError(
        'MTA_STS_CERT_DIR',
        `no usable certificate in "${dir.path}" (each sub-folder needs fullchain.pem and privkey.pem that match; the log says what is wrong with each), ` +
          'and no HTTP_TLS_CERT/HTTP_TLS_KEY (or TLS_CERT/TLS_KEY) to serve instead',
      );
    }
  }
  const fallback = (): SecureContext | undefined => pair?.current().context;
  const serverOptions: ServerOptions = {
    minVersion: TLS_MIN_VERSION,
    ...(pair ? { cert: pair.current().cert, key: pair.current().key } : {}),
    ...(dir
      ? {
          SNICallback: (servername: string, callback: (err: Error | null, ctx?: SecureContext) => void) =>
            callback(null, dir.lookup(servername)?.context ?? fallback()),
        }
      : {}),
  };
  const checks = [...(pair ? [pair.check] : []), ...(dir ? [dir.check] : [])];
  return {
    serverOptions,
    attach: (s) => {
      server = s;
    },
    sources: [...(pair ? [pair] : []), ...(dir ? [dir] : [])],
    reloader: createTlsReloader(checks),
  };
}
