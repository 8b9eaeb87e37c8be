/**
 * Tests run against the real PostgreSQL and Redis of this machine (never mocks). When one is down, fail
 * at once with the command that starts it, instead of a wall of connection errors.
 */
import net from 'node:net';

export const PG_URL_BASE = process.env.TEST_DATABASE_URL_BASE ?? 'postgresql://postgres@127.0.0.1:5432';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const START_HINTS = {
  PostgreSQL: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  Redis:
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
};

let checked: Promise<void> | undefined;

export function requireServices(): Promise<void> {
  checked ??= (async () => {
    const pg = new URL(PG_URL_BASE);
    const redis = new URL(REDIS_URL);
    const down: string[] = [];
    if (!(await portAnswers(Number(pg.port || 5432), pg.hostname))) down.push('PostgreSQL');
    if (!(await portAnswers(Number(redis.port || 6379), redis.hostname))) down.push('Redis');
    if (down.length) {
      throw new Error(
        `The tests need real services, and ${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} not reachable ` +
          `(${down.map((d) => (d === 'PostgreSQL' ? PG_URL_BASE : REDIS_URL)).join(', ')}). Start ${down.length > 1 ? 'them' : 'it'} with:\n` +
          down.map((d) => `  ${START_HINTS[d as keyof typeof START_HINTS]}`).join('\n') +
          '\n(.ci/run does this automatically.)',
      );
    }
  })();
  return checked;
}

/**
 * A service that is down refuses at once; the time limit is only for an address that drops packets. It is
 * long because the check shares this process's event loop: a file whose set-up blocks it for a few seconds
 * (Dovecot's start, on a loaded machine) made a 2 s limit expire before the connection was even seen.
 */
const CONNECT_TIMEOUT_MS = 20_000;

/** Whether something accepts TCP connections on host:port (loopback by default). */
export function portAnswers(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: CONNECT_TIMEOUT_MS });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
