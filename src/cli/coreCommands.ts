import type { Command } from 'commander';
import { describeConfig, loadConfig, maskUrl } from '../config/loadConfig.js';
import { environmentHelp } from '../config/environmentHelp.js';
import { migrate } from '../db/migrate.js';

export function registerCoreCommands(program: Command): void {
  program
    .command('serve')
    .description('migrate the database, then run the SMTP receiver, the HTTP(S) server and a worker in one process (what "npm start" runs)')
    .addHelpText('after', environmentHelp('serve'))
    .action(async () => {
      const { runServe } = await import('../../workers/serve.js');
      await runServe();
    });

  program
    .command('receiver')
    .description('run only the SMTP receiver (stores mail and queues it; run "tlsrpt worker" to process)')
    .addHelpText('after', environmentHelp('receiver'))
    .action(async () => {
      const { runReceiver } = await import('../../workers/receiver.js');
      await runReceiver();
    });

  program
    .command('worker')
    .description('run only a worker: parse queued messages into reports (start several to scale out)')
    .addHelpText('after', environmentHelp('worker'))
    .action(async () => {
      const { runWorker } = await import('../../workers/worker.js');
      await runWorker();
    });

  program
    .command('migrate')
    .description('create the database if needed and apply pending migrations, then exit')
    .addHelpText('after', `${environmentHelp('migrate')}\nSafe to run repeatedly and from several processes at once.`)
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
    .description('print the configuration in effect (secrets masked, long lists summarised) and exit; fails naming any bad variable')
    .addHelpText('after', environmentHelp('config'))
    .action(() => {
      const described = describeConfig(loadConfig());
      const width = Math.max(...Object.keys(described).map((k) => k.length));
      for (const [k, v] of Object.entries(described)) process.stdout.write(`${k.padEnd(width)}  ${String(v)}\n`);
    });
}
