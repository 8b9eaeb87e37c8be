import { pino, type Logger } from 'pino';

/** JSON lines on stdout (pino), one logger per process; components take a child with their name. */
export function createLogger(level: string, name = 'tlsrpt'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
