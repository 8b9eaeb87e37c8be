/**
 * A throw-away certificate authority made with the openssl CLI at test time, for a real HTTPS policy host on
 * loopback: certificates for chosen names signed by the CA (trusted via MTA_STS_CA_FILE), and self-signed
 * ones that no CA vouches for. Everything lives in a temporary directory removed by cleanup().
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

export interface TestCa {
  dir: string;
  caCertPath: string;
  caCert: Buffer;
  /** A leaf certificate for `names` (subjectAltName DNS entries), signed by the CA. */
  issue(names: string[]): KeyPair;
  /** A self-signed certificate for `names`: right name, untrusted issuer. */
  selfSigned(names: string[]): KeyPair;
  cleanup(): void;
}

const openssl = (args: string[], cwd: string): void => {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
};

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export function createTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-ca-'));
  openssl(
    [
      'req',
      '-x509',
      ...KEY_ARGS,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '90',
      '-subj',
      '/O=tlsrpt tests/CN=tlsrpt test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  let serial = 0;
  const leafExtensions = (names: string[]): string =>
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`;
  return {
    dir,
    caCertPath: join(dir, 'ca.crt'),
    caCert: readFileSync(join(dir, 'ca.crt')),
    issue(names) {
      const base = `leaf${++serial}`;
      writeFileSync(join(dir, `${base}.ext`), leafExtensions(names));
      openssl(['req', '-new', ...KEY_ARGS, '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${names[0]}`], dir);
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${base}.csr`,
          '-CA',
          'ca.crt',
          '-CAkey',
          'ca.key',
          '-set_serial',
          String(1000 + serial),
          '-days',
          '90',
          '-extfile',
          `${base}.ext`,
          '-out',
          `${base}.crt`,
        ],
        dir,
      );
      return { cert: readFileSync(join(dir, `${base}.crt`)), key: readFileSync(join(dir, `${base}.key`)) };
    },
    selfSigned(names) {
      const base = `self${++serial}`;
      openssl(
        [
          'req',
          '-x509',
          ...KEY_ARGS,
          '-keyout',
          `${base}.key`,
          '-out',
          `${base}.crt`,
          '-days',
          '90',
          '-subj',
          `/CN=${names[0]}`,
          '-addext',
          `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
        ],
        dir,
      );
      return { cert: readFileSync(join(dir, `${base}.crt`)), key: readFileSync(join(dir, `${base}.key`)) };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
