import type { Command } from 'commander';
import type { CliContext } from './cliContext.js';
import { environmentHelp } from '../config/environmentHelp.js';

const HTTP_HELP = `
Serves, on HTTP_HOST:HTTP_PORT:
  POST <HTTP_REPORT_PATH>  TLS reports (RFC 8460 5.4), body application/tlsrpt+gzip or +json;
                           replies 200 {"status":"accepted","id":N} once the body is stored
  GET  /metrics            Prometheus metrics (to METRICS_ALLOW addresses)
  GET  /healthz            200 while the process runs
  GET  /readyz             200 when Postgres and Redis answer and migrations are current, else 503
`;

const HTTP_HELP_END = `See README "HTTPS reports, metrics and health checks" for a reverse-proxy example and every metric.

Logs are JSON lines on standard output (pino). To read them in a terminal:
  tlsrpt http | npx pino-pretty`;

export function registerHttpCommands(program: Command, ctx: CliContext): void {
  program
    .command('http')
    .description('run only the HTTP(S) server: the HTTPS report endpoint, /metrics, /healthz and /readyz ("tlsrpt serve" runs it too)')
    .addHelpText('after', `${HTTP_HELP}${environmentHelp('http')}\n${HTTP_HELP_END}`)
    .action(async () => {
      const { runHttp } = await import('../../workers/http.js');
      ctx.keepsRunning = true;
      await runHttp(ctx.env());
    });
}
