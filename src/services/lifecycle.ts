/** Start-up, reload and shutdown steps shared by the process entry points in workers/. */
import type { Logger } from 'pino';
import { compareConfig, type ConfigChange } from '../config/compareConfig.js';
import { variablesReadBy, type DocumentedCommand } from '../config/environmentHelp.js';
import { describeConfig, maskUrl, type Config } from '../config/loadConfig.js';
import { migrate } from '../db/migrate.js';
import { errorMessage } from '../errors.js';

/** Applies pending migrations; explains what to do when Postgres cannot be reached. */
export async function migrateAtStart(config: Config, log: Logger): Promise<void> {
  // describeConfig summarises long lists: a 10,000-domain MTA_STS_DOMAINS is one short line, not 230 KB.
  log.info({ configFile: config.configFile, config: describeConfig(config) }, 'starting');
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

/** A running part of the process that takes what can change without a restart from a new configuration. */
export interface Reloadable {
  reload(next: Config): Promise<void>;
}

export interface Reloader {
  /** Adds a service to those told on the next SIGHUP. */
  add(service: Reloadable): void;
}

/**
 * SIGHUP -> read the configuration again (the file and the environment, through `load`), hand it to every
 * service added, and log what changed among the variables `command` reads: those applied and those that need
 * a restart (compared with the configuration the process started with, so they stay listed until it restarts). An invalid new
 * configuration is refused whole and logged; the process keeps running on the one it has. Installed first
 * thing, so a SIGHUP during start-up cannot end the process (Node's default for SIGHUP is to exit).
 */
export function reloadOnHangup(log: Logger, command: DocumentedCommand, started: Config, load: () => Config): Reloader {
  const services: Reloadable[] = [];
  const read = new Set<string>(variablesReadBy(command));
  const changes = (before: Config, after: Config) => compareConfig(before, after).filter((c) => read.has(c.name));
  let current = started;
  const reloadOnce = async (): Promise<void> => {
    log.info('SIGHUP: re-reading the configuration');
    let next: Config;
    try {
      next = load();
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'configuration not reloaded: the new one is invalid; still running with the previous one');
      return;
    }
    const applied = changes(current, next).filter((c) => c.reload !== 'restart');
    const needsRestart = changes(started, next).filter((c) => c.reload === 'restart');
    for (const service of services) {
      try {
        await service.reload(next);
      } catch (err) {
        log.error({ err: errorMessage(err) }, 'part of the reload failed; that part keeps its previous settings');
      }
    }
    current = next;
    log.info({ applied: byName(applied), needsRestart: byName(needsRestart) }, 'configuration reloaded');
    if (needsRestart.length) {
      log.warn({ variables: needsRestart.map((c) => c.name) }, 'some changed variables take effect only after a restart');
    }
  };
  // One reload at a time, each after the one before, so two quick SIGHUPs apply in order.
  let last: Promise<void> = Promise.resolve();
  process.on('SIGHUP', () => {
    last = last.then(reloadOnce, reloadOnce);
  });
  return { add: (service) => services.push(service) };
}

function byName(changes: readonly ConfigChange[]): Record<string, { from: unknown; to: unknown }> {
  return Object.fromEntries(changes.map((c) => [c.name, { from: c.from, to: c.to }]));
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
  // The entry points call this last: from here a SIGTERM stops gracefully. Before it, the ports may already
  // answer, but a SIGTERM still ends the process at once (the system's default), so a supervisor or a test
  // that waits for a clean stop waits for this line.
  log.info('started: SIGTERM or SIGINT stops gracefully, SIGHUP reloads');
}
