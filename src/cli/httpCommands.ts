import type { Command } from 'commander';
import type { CliContext } from './cliContext.js';

const HTTP_HELP = `
Serves, on HTTP_HOST:HTTP_PORT:
  POST <HTTP_REPORT_PATH>  TLS reports (RFC 8460 5.4), body application/tlsrpt+gzip or +json;
                           replies 200 {"status":"accepted","id":N} once the body is stored
  GET  /metrics            Prometheus metrics (to METRICS_ALLOW addresses)
  GET  /healthz            200 while the process runs
  GET  /readyz             200 when Postgres and Redis answer and migrations are current, else 503

Environment (defaults in brackets):
  HTTP_HOST, HTTP_PORT          where to listen [0.0.0.0, 8080]
  HTTP_REPORT_PATH              path of your rua=https://... URI [/tlsrpt]
  HTTP_TLS                      auto: HTTPS when TLS_CERT/TLS_KEY are set; on; off (behind a proxy) [auto]
  TLS_CERT, TLS_KEY             PEM files; re-read when they change and on SIGHUP
  HTTP_MAX_BODY_SIZE            largest body accepted, else 413 [2MiB]
  HTTP_RATE_LIMIT_PER_MINUTE    POSTs per client address per minute, else 429; 0 = off [60]
  HTTP_BODY_TIMEOUT_SECONDS     time to send a whole request, else 408 [30]
  HTTP_MAX_CONNECTIONS          open connections at most [256]
  HTTP_TRUST_PROXY              proxies whose X-Forwarded-For is believed: off, on, hop count, addresses [off]
  METRICS_DOMAINS               policy domains always given their own series [none]
  METRICS_MAX_DOMAINS           further domains given their own series, the rest as "other" [100]
  METRICS_ALLOW                 who may GET /metrics: private, any, or addresses/CIDR ranges [private]
See README "HTTPS reports, metrics and health checks" for a reverse-proxy example and every metric.

Logs are JSON lines on standard output (pino). To read them in a terminal:
  tlsrpt http | npx pino-pretty`;

export function registerHttpCommands(program: Command, ctx: CliContext): void {
  program
    .command('http')
    .description('run only the HTTP(S) server: the HTTPS report endpoint, /metrics, /healthz and /readyz ("tlsrpt serve" runs it too)')
    .addHelpText('after', HTTP_HELP)
    .action(async () => {
      const { runHttp } = await import('../../workers/http.js');
      ctx.keepsRunning = true;
      await runHttp(ctx.env());
    });
}
