import type { Command } from 'commander';
import { describeConfig, maskUrl } from '../config/loadConfig.js';
import { environmentHelp } from '../config/environmentHelp.js';
import { migrate } from '../db/migrate.js';
import type { CliContext } from './cliContext.js';

/** The services log JSON lines; this is how to read them. */
const LOG_HELP = `
Logs are JSON lines on standard output (pino). To read them in a terminal:
  tlsrpt %s | npx pino-pretty`;

export function registerCoreCommands(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('migrate the database, then run the SMTP receiver, the HTTP(S) server and a worker in one process (what "npm start" runs)')
    .addHelpText('after', environmentHelp('serve'))
    .addHelpText('after', LOG_HELP.replace('%s', 'serve'))
    .action(async () => {
      const { runServe } = await import('../../workers/serve.js');
      ctx.keepsRunning = true;
      await runServe(ctx.env());
    });

  program
    .command('receiver')
    .description('run only the SMTP receiver (stores mail and queues it; run "tlsrpt worker" to process)')
    .addHelpText('after', environmentHelp('receiver'))
    .addHelpText('after', LOG_HELP.replace('%s', 'receiver'))
    .action(async () => {
      const { runReceiver } = await import('../../workers/receiver.js');
      ctx.keepsRunning = true;
      await runReceiver(ctx.env());
    });

  program
    .command('worker')
    .description('run only a worker: parse queued messages into reports (start several to scale out)')
    .addHelpText('after', environmentHelp('worker'))
    .addHelpText('after', LOG_HELP.replace('%s', 'worker'))
    .action(async () => {
      const { runWorker } = await import('../../workers/worker.js');
      ctx.keepsRunning = true;
      await runWorker(ctx.env());
    });

  program
    .command('migrate')
    .description('create the database if needed and apply pending migrations, then exit')
    .addHelpText('after', `${environmentHelp('migrate')}\nSafe to run repeatedly and from several processes at once.`)
    .action(async () => {
      const config = ctx.loadConfig();
      const result = await migrate(config.databaseUrl, (msg) => ctx.out(`${msg}\n`));
      ctx.out(
        result.applied.length
          ? `${maskUrl(config.databaseUrl)}: applied ${result.applied.length} migration(s)\n`
          : `${maskUrl(config.databaseUrl)}: schema is current\n`,
      );
    });

  program
    .command('config')
    .description('print the configuration in effect (secrets masked, long lists summarised) and exit; fails naming any bad variable')
    .addHelpText('after', environmentHelp('config'))
    .action(() => {
      const described = describeConfig(ctx.loadConfig());
      const width = Math.max(...Object.keys(described).map((k) => k.length));
      for (const [k, v] of Object.entries(described)) ctx.out(`${k.padEnd(width)}  ${String(v)}\n`);
    });
}
