/**
 * Certs (BENCH_ONLY=certs): a certbot-style MTA_STS_CERT_DIR of BENCH_CERTIFICATES sub-folders (1,000 by
 * default, one mta-sts.<domain> certificate each, fullchain.pem and privkey.pem as symlinks into archive/),
 * loaded as `tlsrpt http` loads it at start, then checked again with nothing changed, as every
 * TLS_RELOAD_CHECK_SECONDS does. Wall time and this process's CPU for each.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { createCertificateDir } from '../../src/tls/certificateDir.js';
import { median, selfCpuMs } from '../lib/benchEnv.js';
import type { Figure, Scenario } from '../lib/types.js';

const run = promisify(execFile);

/** One openssl process per certificate (one key for all: loading parses each folder's key all the same). */
async function makeCertbotDir(root: string, count: number): Promise<string> {
  const live = join(root, 'live');
  mkdirSync(live);
  await run('openssl', ['genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(root, 'key.pem')]);
  const names = Array.from({ length: count }, (_, i) => `mta-sts.example-${i + 1}.test`);
  const PARALLEL = 4;
  for (let i = 0; i < names.length; i += PARALLEL) {
    await Promise.all(
      names.slice(i, i + PARALLEL).map(async (name) => {
        const archive = join(root, 'archive', name);
        mkdirSync(archive, { recursive: true });
        await run('openssl', [
          'req',
          '-x509',
          '-key',
          join(root, 'key.pem'),
          '-days',
          '2',
          '-subj',
          `/CN=${name}`,
          '-addext',
          `subjectAltName=DNS:${name}`,
          '-out',
          join(archive, 'fullchain1.pem'),
        ]);
        mkdirSync(join(live, name));
        symlinkSync(join(root, 'key.pem'), join(archive, 'privkey1.pem'));
        symlinkSync(`../../archive/${name}/fullchain1.pem`, join(live, name, 'fullchain.pem'));
        symlinkSync(`../../archive/${name}/privkey1.pem`, join(live, name, 'privkey.pem'));
      }),
    );
  }
  return live;
}

export const certificatesScenario: Scenario = {
  name: 'certs',
  describe: 'certs: load a certbot-style MTA_STS_CERT_DIR of BENCH_CERTIFICATES certificates, and check it again unchanged',
  async run(ctx) {
    const count = ctx.settings.certificates;
    const root = mkdtempSync(join(tmpdir(), 'tlsrpt-bench-certs-'));
    try {
      const t = performance.now();
      const live = await makeCertbotDir(root, count);
      ctx.log(`  ${count} certificates generated in ${((performance.now() - t) / 1000).toFixed(0)} s`);
      const log = pino({ level: 'silent' });
      const load: number[] = [];
      const loadCpu: number[] = [];
      const recheck: number[] = [];
      const recheckCpu: number[] = [];
      for (let i = 0; i < ctx.settings.runs; i++) {
        const dir = createCertificateDir(live, log);
        let cpu = selfCpuMs();
        let t0 = performance.now();
        await dir.check('signal');
        load.push(performance.now() - t0);
        loadCpu.push(selfCpuMs() - cpu);
        if (dir.size() !== count || !dir.lookup(`mta-sts.example-${count}.test`)) throw new Error('not every certificate was loaded');
        cpu = selfCpuMs();
        t0 = performance.now();
        if ((await dir.check('poll')) !== 'unchanged') throw new Error('an unchanged folder was reloaded');
        recheck.push(performance.now() - t0);
        recheckCpu.push(selfCpuMs() - cpu);
      }
      const figure = (name: string, runs: number[], cpu: number[], target?: string): Figure => ({
        scenario: 'certs',
        name,
        unit: 'ms',
        runs,
        value: median(runs),
        extra: { cpuMs: median(cpu), cpuMsPerCertificate: median(cpu) / count },
        settings: { certificates: count },
        ...(target ? { target } : {}),
      });
      return [
        figure(`MTA_STS_CERT_DIR load at start, ${count} certificates`, load, loadCpu, '< 5000'),
        figure(`MTA_STS_CERT_DIR periodic check, ${count} certificates unchanged`, recheck, recheckCpu),
      ];
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
};
