/**
 * MTA_STS_CERT_DIR: a folder in certbot's layout (/etc/letsencrypt/live: one sub-folder per certificate, each
 * with fullchain.pem and privkey.pem, usually symlinks into ../archive). Every certificate is indexed by the
 * DNS names of its subjectAltName, so the HTTPS server can pick one per connection by the name the client
 * asks for (SNI): the many mta-sts.<domain> hosts one server answers for (RFC 8461 3.3 wants a valid
 * certificate for each).
 *
 * check() reads the folder again (SIGHUP, and every TLS_RELOAD_CHECK_SECONDS): a renewed pair replaces the
 * old one, a new sub-folder is added, a removed one dropped. A sub-folder that does not load is logged with
 * what is wrong and skipped; if it was in service, its previous pair stays.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { summariseList } from '../config/summariseList.js';
import { errorMessage } from '../errors.js';
import { buildKeyPair, readPairFiles, CertificateProblem, type KeyPair } from './keyPair.js';
import { combineResults, type CertificateSource, type TlsCheckResult, type TlsCheckTrigger } from './certificateSource.js';

export const CERT_FILE = 'fullchain.pem';
export const KEY_FILE = 'privkey.pem';

export interface CertificateDir extends CertificateSource {
  readonly path: string;
  /** The pair whose subjectAltName covers `servername` (exactly, or by a wildcard one label deep), or null. */
  lookup(servername: string): KeyPair | null;
  /** Sub-folders in service. */
  size(): number;
  check(trigger: TlsCheckTrigger): Promise<TlsCheckResult>;
}

/** Sub-folders read at once: enough to keep the disk busy, few enough not to hold thousands of files open. */
const READ_BATCH = 64;

export function createCertificateDir(path: string, log: Logger): CertificateDir {
  const pairs = new Map<string, KeyPair>();
  // The last problem logged per sub-folder: a broken one is logged again only when what is wrong changes.
  const problems = new Map<string, string>();
  const reloads = { reloaded: 0, failed: 0 };
  let exact = new Map<string, KeyPair>();
  let wildcard = new Map<string, KeyPair>();
  let checked = false;

  const reindex = () => {
    const nextExact = new Map<string, KeyPair>();
    const nextWildcard = new Map<string, KeyPair>();
    for (const pair of pairs.values()) {
      for (const name of pair.names) {
        const [target, key] = name.startsWith('*.') ? [nextWildcard, name.slice(2)] : [nextExact, name];
        const other = target.get(key);
        // Two certificates for one name (certbot keeps "example.com-0001" beside "example.com"): the one that
        // lasts longer is the newer one.
        if (!other || pair.notAfter > other.notAfter) target.set(key, pair);
      }
    }
    exact = nextExact;
    wildcard = nextWildcard;
  };

  const problem = (trigger: TlsCheckTrigger, folder: string, err: unknown, inService: boolean): void => {
    const message = errorMessage(err);
    if (trigger === 'poll' && problems.get(folder) === message) return;
    problems.set(folder, message);
    reloads.failed += 1;
    const reason = err instanceof CertificateProblem ? err.reason : 'file-unreadable';
    log.warn(
      { dir: path, folder, reason, err: message },
      inService ? 'MTA_STS_CERT_DIR: certificate not reloaded; still serving the previous one' : 'MTA_STS_CERT_DIR: sub-folder skipped',
    );
  };

  /** One sub-folder: 'unchanged', 'reloaded' (or added), or 'failed'. */
  const checkFolder = async (trigger: TlsCheckTrigger, folder: string): Promise<TlsCheckResult> => {
    const old = pairs.get(folder);
    let next: KeyPair;
    try {
      const { cert, key } = await readPairFiles(join(path, folder, CERT_FILE), join(path, folder, KEY_FILE));
      if (old && cert.equals(old.cert) && key.equals(old.key)) {
        problems.delete(folder);
        return 'unchanged';
      }
      next = buildKeyPair(cert, key);
      if (next.names.length === 0) {
        throw new CertificateProblem('no-dns-name', 'the certificate names no DNS host in its subjectAltName, so no client can ask for it');
      }
    } catch (err) {
      problem(trigger, folder, err, old !== undefined);
      return 'failed';
    }
    pairs.set(folder, next);
    problems.delete(folder);
    if (old) {
      reloads.reloaded += 1;
      log.info({ dir: path, folder, names: summariseList([...next.names]) }, 'MTA_STS_CERT_DIR: certificate reloaded');
    } else if (checked) {
      log.info({ dir: path, folder, names: summariseList([...next.names]) }, 'MTA_STS_CERT_DIR: certificate added');
    }
    return 'reloaded';
  };

  return {
    use: 'mta-sts',
    path,
    reloads,
    size: () => pairs.size,
    served: () => [...pairs].map(([certificate, pair]) => ({ certificate, notAfter: pair.notAfter })),
    lookup(servername) {
      const name = servername.toLowerCase().replace(/\.$/, '');
      const hit = exact.get(name);
      if (hit) return hit;
      const dot = name.indexOf('.');
      return dot > 0 ? (wildcard.get(name.slice(dot + 1)) ?? null) : null;
    },
    async check(trigger) {
      let folders: string[];
      try {
        folders = await subFolders(path);
      } catch (err) {
        problem(trigger, '.', err, pairs.size > 0);
        return 'failed';
      }
      const results: TlsCheckResult[] = [];
      for (let i = 0; i < folders.length; i += READ_BATCH) {
        results.push(...(await Promise.all(folders.slice(i, i + READ_BATCH).map((f) => checkFolder(trigger, f)))));
      }
      const present = new Set(folders);
      const removed = [...pairs.keys()].filter((f) => !present.has(f));
      for (const folder of removed) pairs.delete(folder);
      for (const folder of problems.keys()) if (folder !== '.' && !present.has(folder)) problems.delete(folder);
      if (removed.length) log.info({ dir: path, removed: summariseList(removed) }, 'MTA_STS_CERT_DIR: certificates removed');
      const result = combineResults(results);
      // One broken sub-folder does not hold back the others' renewals.
      if (results.includes('reloaded') || removed.length) reindex();
      if (!checked) {
        log.info(
          { dir: path, certificates: pairs.size, names: exact.size + wildcard.size, skipped: folders.length - pairs.size },
          'MTA_STS_CERT_DIR: certificates loaded',
        );
      }
      checked = true;
      return removed.length && result === 'unchanged' ? 'reloaded' : result;
    },
  };
}

/** The sub-folders (certbot's live/ also holds a README file, which is not one), sorted for stable logs. */
async function subFolders(path: string): Promise<string[]> {
  const entries: Dirent[] = await readdir(path, { withFileTypes: true });
  const folders: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    if (entry.isDirectory()) folders.push(entry.name);
    // A dangling symlink is no folder: passed over like a file.
    else if (entry.isSymbolicLink() && (await stat(join(path, entry.name)).catch(() => null))?.isDirectory()) folders.push(entry.name);
  }
  return folders.sort();
}
