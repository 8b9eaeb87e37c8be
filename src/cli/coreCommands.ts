import type { Command } from 'commander';
import { describeConfig, loadConfig, maskUrl } from '../config/loadConfig.js';
import { migrate } from '../db/migrate.js';

const ENV_HELP = `
Environment (defaults in brackets):
  DATABASE_URL           PostgreSQL URL [postgresql://postgres@127.0.0.1:5432/tlsrpt]
  REDIS_URL              Redis URL for the queue [redis://127.0.0.1:6379]
  SMTP_HOST, SMTP_PORT   where the receiver listens [0.0.0.0, 2525]
  ACCEPTED_RECIPIENTS    addresses and domains to accept mail for [any]
  MAX_MESSAGE_SIZE       largest mail accepted [10MiB]
  TLS_CERT, TLS_KEY      PEM files; when set, STARTTLS is offered
  WORKER_CONCURRENCY     reports processed at once per worker [64]
See README "Configuration" for all variables.`;

export function registerCoreCommands(program: Command): void {
  program
    .command('serve')
    .description('migrate the database, then run the SMTP receiver, the HTTP(S) server and a worker in one process (what "npm start" runs)')
    .addHelpText('after', ENV_HELP)
    .action(async () => {
      const { runServe } = await import('../../workers/serve.js');
      await runServe();
    });

  program
    .command('receiver')
    .description('run only the SMTP receiver (stores mail and queues it; run "tlsrpt worker" to process)')
    .addHelpText('after', ENV_HELP)
    .action(async () => {
      const { runReceiver } = await import('../../workers/receiver.js');
      await runReceiver();
    });

  program
    .command('worker')
    .description('run only a worker: parse queued messages into reports (start several to scale out)')
    .addHelpText('after', ENV_HELP)
    .action(async () => {
      const { runWorker } = await import('../../workers/worker.js');
      await runWorker();
    });

  program
    .command('migrate')
    .description('create the database if needed and apply pending migrations, then exit')
    .addHelpText('after', '\nUses DATABASE_URL. Safe to run repeatedly and from several processes at once.')
    .action(async () => {
      const config = loadConfig();
      const result = await migrate(config.databaseUrl, (msg) => process.stdout.write(`${msg}\n`));
      process.stdout.write(
        result.applied.length
          ? `${maskUrl(config.databaseUrl)}: applied ${result.applied.length} migration(s)\n`
          : `${maskUrl(config.databaseUrl)}: schema is current\n`,
      );
    });

  program
    .command('config')
    .description('print the configuration in effect (secrets masked) and exit; fails naming any bad variable')
    .action(() => {
      const described = describeConfig(loadConfig());
      const width = Math.max(...Object.keys(described).map((k) => k.length));
      for (const [k, v] of Object.entries(described)) process.stdout.write(`${k.padEnd(width)}  ${String(v)}\n`);
    });
}
