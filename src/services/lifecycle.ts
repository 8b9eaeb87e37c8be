/** Start-up and shutdown steps shared by the process entry points in workers/. */
import type { Logger } from 'pino';
import { describeConfig, type Config } from '../config/loadConfig.js';
import { migrate } from '../db/migrate.js';
import { errorMessage } from '../errors.js';
import { maskUrl } from '../config/loadConfig.js';

/** Applies pending migrations; explains what to do when Postgres cannot be reached. */
export async function migrateAtStart(config: Config, log: Logger): Promise<void> {
  log.info({ config: describeConfig(config) }, 'starting');
  try {
    const result = await migrate(config.databaseUrl, (msg) => log.info(msg));
    if (result.applied.length === 0) log.info('database schema is current');
  } catch (err) {
    throw new Error(
      `cannot prepare the database at ${maskUrl(config.databaseUrl)}: ${errorMessage(err)}. ` +
        'Check DATABASE_URL and that PostgreSQL is running.',
      { cause: err },
    );
  }
}

/**
 * SIGTERM/SIGINT -> stop() once (stop accepting, finish in-flight work, close pools), then exit.
 * A second signal, or stop() outlasting the timeout, exits at once.
 */
export function stopOnSignals(log: Logger, timeoutMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'shutting down: no new connections, finishing messages in progress');
    const timer = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, timeoutMs + 5000);
    timer.unref();
    stop().then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err) => {
        log.error({ err: errorMessage(err) }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
