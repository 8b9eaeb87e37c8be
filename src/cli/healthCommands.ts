import type { Command } from 'commander';
import { Redis } from 'ioredis';
import { createPool } from '../db/pool.js';
import { checkDependencies } from '../health/checkDependencies.js';
import { probeHttp, probeSmtp, type ProbeResult } from '../health/probeListeners.js';
import { EXIT_FINDING } from './exitCodeFor.js';
import type { CliContext } from './cliContext.js';

const HEALTH_HELP = `
Checks, with this configuration: PostgreSQL answers and every migration is applied, Redis answers; with
--smtp, the SMTP receiver on SMTP_HOST:SMTP_PORT greets with 220; with --http, GET /healthz on
HTTP_HOST:HTTP_PORT answers 200 (HTTPS when the server speaks it). A wildcard listen address is checked on
loopback. Prints one line per check; exit status 0 when every check passes, 1 otherwise. Made for container
health checks (docker-compose.yml) and monitoring scripts.`;

export function registerHealthCommands(program: Command, ctx: CliContext): void {
  program
    .command('health')
    .description("check that PostgreSQL and Redis answer (and, asked, this configuration's SMTP or HTTP listener); exit 1 if not")
    .option('--smtp', "also read the SMTP receiver's greeting")
    .option('--http', 'also GET /healthz from the HTTP(S) server')
    .addHelpText('after', HEALTH_HELP)
    .action(async (options: { smtp?: boolean; http?: boolean }) => {
      const config = ctx.loadConfig();
      const pool = createPool(config.databaseUrl, { max: 1, connectionTimeoutMillis: 2000, applicationName: 'tlsrpt-health' });
      // One try, no reconnection: a health check answers now or fails, it does not wait for Redis to come back.
      const redis = new Redis(config.redisUrl, {
        lazyConnect: false,
        maxRetriesPerRequest: 0,
        connectTimeout: 2000,
        retryStrategy: () => null,
      });
      // Its connection errors are the finding, reported below through the ping; they need no second report.
      redis.on('error', () => undefined);
      try {
        const [dependencies, ...listeners] = await Promise.all([
          checkDependencies({ pool, redis }),
          ...(options.smtp ? [probeSmtp(config)] : []),
          ...(options.http ? [probeHttp(config)] : []),
        ]);
        const checks: Array<{ name: string; ok: boolean; detail: string }> = [...dependencies.checks, ...(listeners as ProbeResult[])];
        for (const c of checks) ctx.out(`${c.name.padEnd(10)} ${c.ok ? 'ok  ' : 'FAIL'} ${c.detail}\n`);
        if (!checks.every((c) => c.ok)) ctx.exitCode = EXIT_FINDING;
      } finally {
        redis.disconnect();
        await pool.end();
      }
    });
}
