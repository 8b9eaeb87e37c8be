/**
 * A folder laid out as certbot lays out /etc/letsencrypt: live/<name>/{fullchain,privkey}.pem are symlinks
 * into archive/<name>/{fullchain,privkey}N.pem, and a renewal writes version N+1 and repoints the links one
 * after the other (each by an atomic rename of a fresh link, as certbot does).
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PemPair {
  cert: Buffer;
  key: Buffer;
}

export interface CertbotDir {
  /** The folder to name in MTA_STS_CERT_DIR. */
  live: string;
  /** Writes the next archive version of `name` and points live/<name> at it (a first install creates it). */
  install(name: string, pair: PemPair): void;
  /** Repoints only live/<name>/fullchain.pem at a new certificate: a renewal caught halfway. */
  installCertOnly(name: string, cert: Buffer): void;
  cleanup(): void;
}

export function createCertbotDir(): CertbotDir {
  const root = mkdtempSync(join(tmpdir(), 'tlsrpt-letsencrypt-'));
  const live = join(root, 'live');
  const archive = join(root, 'archive');
  mkdirSync(live);
  mkdirSync(archive);
  // certbot's live/ holds a README beside the sub-folders: it must be passed over.
  writeFileSync(join(live, 'README'), 'This directory contains your keys and certificates.\n');
  const versions = new Map<string, number>();

  const link = (name: string, file: string, target: string) => {
    const path = join(live, name, file);
    const fresh = `${path}.new`;
    symlinkSync(target, fresh);
    renameSync(fresh, path);
  };
  const writeVersion = (name: string, files: Record<string, Buffer>) => {
    const n = (versions.get(name) ?? 0) + 1;
    versions.set(name, n);
    mkdirSync(join(archive, name), { recursive: true });
    mkdirSync(join(live, name), { recursive: true });
    for (const [base, data] of Object.entries(files)) writeFileSync(join(archive, name, `${base}${n}.pem`), data);
    return n;
  };

  return {
    live,
    install(name, pair) {
      const n = writeVersion(name, { fullchain: pair.cert, privkey: pair.key });
      link(name, 'privkey.pem', `../../archive/${name}/privkey${n}.pem`);
      link(name, 'fullchain.pem', `../../archive/${name}/fullchain${n}.pem`);
    },
    installCertOnly(name, cert) {
      const n = writeVersion(name, { fullchain: cert });
      link(name, 'fullchain.pem', `../../archive/${name}/fullchain${n}.pem`);
    },
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** The sub-folders of live/, for assertions. */
export function liveFolders(dir: CertbotDir): string[] {
  return readdirSync(dir.live).filter((f) => f !== 'README');
}
