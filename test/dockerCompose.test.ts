/**
 * docker-compose.yml, tested without a container engine (none runs where the tests run): each tlsrpt service's
 * command runs as a local process with the environment compose would give it (`env_file: .env` made from
 * .env.example with test values, then the service's `environment`), and every feature the README promises
 * for the deployment must answer. What stands in for the containers, and nothing else:
 *   - the `postgres` and `redis` service names are the local PostgreSQL (a database of this test's own, as
 *     role postgres under trust) and Redis (a queue prefix of its own);
 *   - each port a service listens on inside its container is a free local port;
 *   - a path under a volume's mount point is the same path under the volume's source (temporary folders);
 *   - `tlsrpt ARGS` (the image's bin) is `node --import tsx src/cli/main.ts ARGS`.
 * `docker compose config` (or Debian's docker-compose 1.29, which .ci/run installs) checks the file itself, and
 * dockerfile-utils lints the Dockerfile.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { parseEnv } from 'node:util';
import { gzipSync } from 'node:zlib';
import { validate } from 'dockerfile-utils';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { VARIABLES } from '../src/config/variables.js';
import { projectPath } from '../src/util/projectPath.js';
import { makeCertificate } from './helpers/certificates.js';
import { startDovecot, type Dovecot } from './helpers/dovecot.js';
import { buildReportMail } from './helpers/reportMail.js';
import { portAnswers, REDIS_URL } from './helpers/services.js';
import { smtpSend } from './helpers/smtpSend.js';
import { clearQueuePrefix } from './helpers/testConfig.js';
import { createTestDatabase, type TestDatabase } from './helpers/testDatabase.js';
import { waitFor } from './helpers/waitFor.js';
import { freePort, startWebhookSink, type WebhookSink } from './helpers/webhookSink.js';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number>;
  env_file?: string | string[];
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  restart?: string;
  init?: boolean;
  deploy?: { replicas?: number | string };
  depends_on?: Record<string, unknown> | string[];
}

const composeText = readFileSync(projectPath('docker-compose.yml'), 'utf8');
const compose = parse(composeText, { merge: true }) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
const envExample = parseEnv(readFileSync(projectPath('.env.example'), 'utf8')) as Record<string, string>;

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$. */
function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
    (whole, name: string | undefined, colon, op, arg: string) => {
      if (whole === '$$') return '$';
      const value = env[name!];
      const missing = value === undefined || (colon === ':' && value === '');
      if (!missing) return value;
      if (op === '?') throw new Error(`docker-compose.yml: ${name} is required: ${arg}`);
      return op === '-' ? arg : '';
    },
  );
}

const APP_SERVICES = ['receiver', 'http', 'worker', 'imap'];
/** The ports each app service listens on inside its container, by the variable that sets them. */
const PORT_VARIABLES = ['SMTP_PORT', 'HTTP_PORT', 'METRICS_PORT'];

function seconds(duration: string): number {
  const m = /^(\d+)(s|m)$/.exec(duration);
  assert.ok(m, `a duration compose reads: ${duration}`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

describe('docker-compose.yml: the file', () => {
  it('runs every part: receiver, http, workers, imap on request, PostgreSQL and Redis with volumes, monitoring', () => {
    const s = compose.services;
    assert.deepEqual(Object.keys(s).sort(), ['grafana', 'http', 'imap', 'postgres', 'prometheus', 'receiver', 'redis', 'worker']);
    assert.deepEqual(s.receiver!.command, ['tlsrpt', 'receiver']);
    assert.deepEqual(s.http!.command, ['tlsrpt', 'http']);
    assert.deepEqual(s.worker!.command, ['tlsrpt', 'worker']);
    assert.deepEqual(s.imap!.command, ['tlsrpt', 'imap']);
    assert.deepEqual(s.imap!.profiles, ['imap']);
    assert.deepEqual(s.prometheus!.profiles, ['monitoring']);
    assert.deepEqual(s.grafana!.profiles, ['monitoring']);
    assert.ok(s.postgres!.volumes?.some((v) => v.endsWith(':/var/lib/postgresql/data')));
    assert.ok(s.redis!.volumes?.some((v) => v.endsWith(':/data')));
    assert.match(s.redis!.command!.join(' '), /--appendonly yes/);
  });

  it('gives every service a health check, and the app services a stop grace period past their shutdown timeout', () => {
    const timeout = Number(envExample.SHUTDOWN_TIMEOUT_SECONDS ?? VARIABLES.SHUTDOWN_TIMEOUT_SECONDS.default);
    for (const [name, service] of Object.entries(compose.services)) {
      assert.ok(service.healthcheck?.test.length, `${name} has a health check`);
      assert.ok(service.stop_grace_period, `${name} has a stop grace period`);
      if (!APP_SERVICES.includes(name)) continue;
      // stopOnSignals exits by itself 5 s after the shutdown timeout; the grace period must outlast both.
      assert.ok(
        seconds(service.stop_grace_period) > timeout + 5,
        `${name}: stop_grace_period ${service.stop_grace_period} <= ${timeout} s + 5 s`,
      );
      assert.equal(service.env_file, '.env', `${name} reads every setting of .env`);
      assert.equal(service.init, true, `${name} runs under an init that forwards SIGTERM`);
      assert.equal(service.restart, 'unless-stopped');
      assert.equal(service.healthcheck!.test[0], 'CMD');
      assert.equal(service.healthcheck!.test[1], 'tlsrpt');
    }
  });

  it('keeps the PostgreSQL password out of the file', () => {
    // Only ever as `${POSTGRES_PASSWORD:?...}`, taken from .env: never a value written in the file.
    assert.doesNotMatch(composeText, /^\s*POSTGRES_PASSWORD:\s*(?!\$\{POSTGRES_PASSWORD:\?)\S/m);
    assert.doesNotMatch(composeText, /postgresql:\/\/[^:]+:(?!\$\{POSTGRES_PASSWORD:\?)[^@]*@/);
    assert.match(composeText, /\$\{POSTGRES_PASSWORD:\?/);
  });

  it('provisions Prometheus to scrape the http service and Grafana with the project dashboard', () => {
    const prometheus = parse(readFileSync(projectPath('deploy/prometheus/prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ metrics_path: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const target = prometheus.scrape_configs[0]!.static_configs[0]!.targets[0]!;
    assert.equal(target, `http:${compose.services.http!.environment!.METRICS_PORT}`);
    assert.equal(prometheus.scrape_configs[0]!.metrics_path, '/metrics');

    const grafana = compose.services.grafana!;
    const mounts = new Map(grafana.volumes!.map((v) => [v.split(':')[1]!, v.split(':')[0]!]));
    assert.equal(mounts.get('/etc/grafana/provisioning'), './deploy/grafana/provisioning');
    const provider = parse(readFileSync(projectPath('deploy/grafana/provisioning/dashboards/tlsrpt.yml'), 'utf8')) as {
      providers: Array<{ type: string; options: { path: string } }>;
    };
    const dashboardDir = provider.providers[0]!.options.path;
    const dashboardMount = [...mounts].find(([inside]) => inside.startsWith(`${dashboardDir}/`));
    assert.deepEqual(dashboardMount, [`${dashboardDir}/tlsrpt.json`, './dashboards/tlsrpt.json']);
    const datasource = parse(readFileSync(projectPath('deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as {
      datasources: Array<{ type: string; url: string; isDefault: boolean }>;
    };
    assert.deepEqual(datasource.datasources[0], {
      ...datasource.datasources[0],
      type: 'prometheus',
      url: 'http://prometheus:9090',
      isDefault: true,
    });
  });

  const composeBinary = ((): string[] | null => {
    if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
    if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
    return null;
  })();

  it(
    'passes `docker compose config` with .env.example copied to .env, and fails naming POSTGRES_PASSWORD without it',
    { skip: composeBinary ? false : 'neither docker compose nor docker-compose is installed (.ci/run installs docker-compose)' },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-compose-'));
      try {
        for (const f of ['docker-compose.yml', 'Dockerfile', 'deploy', 'dashboards'])
          cpSync(projectPath(f), join(dir, f), { recursive: true });
        cpSync(projectPath('.env.example'), join(dir, '.env'));
        const [cmd, ...args] = composeBinary!;
        const out = execFileSync(cmd!, [...args, 'config'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
        for (const service of ['postgres', 'redis', 'receiver', 'http', 'worker', 'imap', 'prometheus', 'grafana']) {
          assert.match(out, new RegExp(`^  ${service}:`, 'm'));
        }
        assert.match(out, /ALERT_WEBHOOK_URLS: https:\/\/alerts\.example\.com\/tlsrpt/);

        writeFileSync(
          join(dir, '.env'),
          readFileSync(projectPath('.env.example'), 'utf8').replace(/^POSTGRES_PASSWORD=.*$/m, 'POSTGRES_PASSWORD='),
        );
        const refused = spawnSync(cmd!, [...args, 'config'], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
        assert.notEqual(refused.status, 0);
        assert.match(refused.stderr, /POSTGRES_PASSWORD/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('Dockerfile', () => {
  const text = readFileSync(projectPath('Dockerfile'), 'utf8');

  it('passes dockerfile-utils, the linter behind VS Code Dockerfile diagnostics', () => {
    const problems = validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`);
    assert.deepEqual(problems, []);
    // The linter finds real mistakes: a broken copy of the file is flagged.
    assert.ok(validate(text.replace('AS build', 'AS build\nFROM node AS build').replace('--interval=30s', '--interval=30x')).length >= 2);
  });

  it('copies only files that exist and that .dockerignore lets through, and builds on the Node line package.json names', () => {
    const ignored = readFileSync(projectPath('.dockerignore'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith('#'));
    for (const m of text.matchAll(/^COPY (?!--from)(.+)$/gm)) {
      const sources = m[1]!.trim().split(/\s+/).slice(0, -1);
      for (const source of sources) {
        assert.ok(existsSync(projectPath(source)), `COPY ${source}: no such file`);
        assert.ok(!ignored.includes(source), `COPY ${source}: excluded by .dockerignore`);
      }
    }
    const lines = [...text.matchAll(/^FROM node:(\d+)-/gm)].map((m) => m[1]);
    assert.equal(new Set(lines).size, 1, 'both stages on one Node line');
    const engines = (JSON.parse(readFileSync(projectPath('package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    assert.match(engines, new RegExp(`\\^${lines[0]}\\b`), `engines (${engines}) names the image's Node ${lines[0]}`);
    assert.ok(ignored.includes('.env'), '.env (secrets) stays out of the build context');
  });
});

/** A report of `domain` over yesterday, with failed sessions, so that it raises an alert (ALERT_MAX_REPORT_AGE). */
function failingReport(reportId: string, domain = 'example.com'): object {
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  return {
    'organization-name': 'Compose Test Sender',
    'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
    'contact-info': 'tlsrpt@sender.example',
    'report-id': reportId,
    policies: [
      {
        policy: {
          'policy-type': 'sts',
          'policy-string': ['version: STSv1', 'mode: testing', `mx: mx.${domain}`, 'max_age: 86400'],
          'policy-domain': domain,
          'mx-host': [`mx.${domain}`],
        },
        summary: { 'total-successful-session-count': 90, 'total-failure-session-count': 10 },
        'failure-details': [
          {
            'result-type': 'certificate-expired',
            'sending-mta-ip': '198.51.100.1',
            'receiving-mx-hostname': `mx.${domain}`,
            'failed-session-count': 10,
          },
        ],
      },
    ],
  };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Buffer; servername?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const common = { method: options.method ?? 'GET', headers: options.headers ?? {} };
    const req =
      u.protocol === 'https:'
        ? https.request(u, { ...common, rejectUnauthorized: false, ...(options.servername ? { servername: options.servername } : {}) })
        : http.request(u, common);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

interface Running {
  name: string;
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  env: Record<string, string>;
  ports: Map<string, number>;
}

/** `tlsrpt ARGS`, the image's bin, run from the source as the other process tests do. */
function tlsrptArgv(argv: readonly string[]): string[] {
  assert.equal(argv[0], 'tlsrpt', `a compose command runs the tlsrpt bin: ${argv.join(' ')}`);
  return ['--import', 'tsx', projectPath('src', 'cli', 'main.ts'), ...argv.slice(1)];
}

describe('docker-compose.yml: every feature answers, with each service run as compose runs it', () => {
  let db: TestDatabase;
  let sink: WebhookSink;
  let dovecot: Dovecot;
  const dirs: string[] = [];
  const prefix = `test-compose-${process.pid}`;
  const running: Running[] = [];
  /** The test's .env: .env.example as a new user fills it in, pointing at the test's own folders and sink. */
  let dotEnv: Record<string, string>;
  const policy = 'version: STSv1\nmode: testing\nmx: reports.example.com\nmax_age: 604800\n';

  const service = (name: string) => running.find((r) => r.name === name || r.name.startsWith(`${name}-`))!;
  const port = (name: string, variable: string) => service(name).ports.get(variable)!;

  before(async () => {
    db = await createTestDatabase();
    sink = await startWebhookSink();
    // The mailbox of IMAP_URL, with one report in it, for the imap service (COMPOSE_PROFILES=imap).
    dovecot = await startDovecot();
    dovecot.addUser('tls-reports', 'mailbox-password');
    dovecot.deliver('tls-reports', 'INBOX', [buildReportMail({ report: failingReport(`compose-imap-${process.pid}`) })]);
    const certs = mkdtempSync(join(tmpdir(), 'tlsrpt-compose-certs-'));
    const etc = mkdtempSync(join(tmpdir(), 'tlsrpt-compose-etc-'));
    dirs.push(certs, etc);
    for (const name of ['reports.example.com', 'mta-sts.example.com']) {
      const pair = makeCertificate(name);
      mkdirSync(join(certs, 'live', name), { recursive: true });
      writeFileSync(join(certs, 'live', name, 'fullchain.pem'), pair.cert);
      writeFileSync(join(certs, 'live', name, 'privkey.pem'), pair.key);
    }
    mkdirSync(join(etc, 'mta-sts'));
    writeFileSync(join(etc, 'mta-sts', 'example.com.txt'), policy);

    dotEnv = {
      ...envExample,
      POSTGRES_PASSWORD: 'compose-test-password',
      CERTS_DIR: certs,
      TLSRPT_ETC_DIR: etc,
      ALERT_WEBHOOK_URLS: sink.url('/tlsrpt-alerts'),
      // A test cannot wait the ten minutes an alert window collects reports for by default.
      ALERT_GROUP_WAIT_SECONDS: '1',
      ALERT_RETRY_DELAY_SECONDS: '0.5',
      QUEUE_PREFIX: prefix,
      COMPOSE_PROFILES: 'imap',
      IMAP_URL: `imap://tls-reports:mailbox-password@127.0.0.1:${dovecot.port}/INBOX`,
    };
    // Until this code has the per-use pairs (SMTP_TLS_*, HTTP_TLS_*), the one pair they default to serves both.
    if (!('HTTP_TLS_CERT' in VARIABLES)) Object.assign(dotEnv, { TLS_CERT: dotEnv.HTTP_TLS_CERT, TLS_KEY: dotEnv.HTTP_TLS_KEY });

    // Every tlsrpt service that compose would start with the profiles of .env.
    const profiles = (dotEnv.COMPOSE_PROFILES ?? '').split(',').map((p) => p.trim());
    const started = Object.entries(compose.services).filter(
      ([, s]) => s.command?.[0] === 'tlsrpt' && (!s.profiles || s.profiles.some((p) => profiles.includes(p))),
    );
    assert.deepEqual(
      started.map(([name]) => name),
      APP_SERVICES,
    );
    for (const [name, s] of started) {
      const replicas = Number(interpolate(String(s.deploy?.replicas ?? 1), dotEnv));
      for (let i = 1; i <= replicas; i++) running.push(await start(replicas > 1 ? `${name}-${i}` : name, s));
    }
  });

  /** The environment compose gives `s`, translated to this machine (see the top of the file). */
  async function environmentOf(s: ComposeService): Promise<{ env: Record<string, string>; ports: Map<string, number> }> {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    if (s.env_file) Object.assign(env, dotEnv);
    for (const [k, v] of Object.entries(s.environment ?? {})) env[k] = interpolate(String(v), dotEnv);

    const database = new URL(env.DATABASE_URL!);
    assert.equal(database.hostname, 'postgres', 'DATABASE_URL names the postgres service');
    assert.equal(database.password, dotEnv.POSTGRES_PASSWORD, 'DATABASE_URL carries the password of .env');
    env.DATABASE_URL = db.url;
    assert.equal(new URL(env.REDIS_URL!).hostname, 'redis', 'REDIS_URL names the redis service');
    env.REDIS_URL = REDIS_URL;

    const ports = new Map<string, number>();
    for (const variable of PORT_VARIABLES) {
      if (env[variable] === undefined) continue;
      const local = await freePort();
      ports.set(variable, local);
      env[variable] = String(local);
    }
    // Loopback stands in for the container's network; it also keeps these listeners off this machine's network.
    for (const variable of ['SMTP_HOST', 'HTTP_HOST', 'METRICS_HOST']) if (env[variable] === '0.0.0.0') env[variable] = '127.0.0.1';

    for (const volume of s.volumes ?? []) {
      const [source, inside] = interpolate(volume, dotEnv).split(':') as [string, string];
      const local = isAbsolute(source) ? source : projectPath(source);
      for (const [k, v] of Object.entries(env)) if (v === inside || v.startsWith(`${inside}/`)) env[k] = local + v.slice(inside.length);
    }
    return { env, ports };
  }

  async function start(name: string, s: ComposeService): Promise<Running> {
    const { env, ports } = await environmentOf(s);
    const child = spawn(process.execPath, tlsrptArgv(s.command!), { cwd: projectPath(), env });
    let out = '';
    child.stdout!.on('data', (c) => (out += c));
    child.stderr!.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    return { name, child, output: () => out, exited, env, ports };
  }

  /** Runs `name`'s health check command with its environment: exit status and output. */
  function healthCheck(name: string): { status: number | null; output: string } {
    const r = service(name);
    const base = name.replace(/-\d+$/, '');
    const test = compose.services[base]!.healthcheck!.test;
    const result = spawnSync(process.execPath, tlsrptArgv(test.slice(1)), { cwd: projectPath(), env: r.env, encoding: 'utf8' });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  after(async () => {
    for (const r of running) r.child.kill('SIGKILL');
    await Promise.all(running.map((r) => r.exited));
    await sink?.close();
    await dovecot?.stop();
    await db?.drop();
    await clearQueuePrefix(prefix);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('starts every service; each one passes its own health check', async () => {
    const dead = () => running.find((r) => r.child.exitCode !== null);
    await waitFor(
      'the services to listen',
      async () => {
        const d = dead();
        if (d) throw new Error(`${d.name} exited: ${d.output()}`);
        return (
          (await portAnswers(port('receiver', 'SMTP_PORT'))) &&
          (await portAnswers(port('http', 'HTTP_PORT'))) &&
          // Logged once the signal handlers are in place, last in every entry point.
          running.every((r) => r.output().includes('"msg":"started: SIGTERM'))
        );
      },
      240_000,
    );
    for (const r of running) {
      const h = healthCheck(r.name);
      assert.equal(h.status, 0, `${r.name}: ${h.output}`);
    }
  });

  it('SMTP: 250 for an accepted recipient, 550 for another', async () => {
    const recipient = dotEnv.ACCEPTED_RECIPIENTS!.split(',')[0]!.trim();
    const mail = buildReportMail({ report: failingReport(`compose-smtp-${process.pid}`), policyDomain: 'example.com' });
    const sent = await smtpSend(port('receiver', 'SMTP_PORT'), mail, { to: [recipient] }, { starttls: true });
    assert.equal(sent.code, 250, sent.response);
    const refused = await smtpSend(port('receiver', 'SMTP_PORT'), mail, { to: ['someone-else@elsewhere.example'] }, { starttls: true });
    assert.equal(refused.code, 550, refused.response);
  });

  it('HTTPS: a gzipped report POST gets 200; it, the mail and the mailbox report are stored by the workers', async () => {
    const body = gzipSync(JSON.stringify(failingReport(`compose-https-${process.pid}`)));
    const r = await request(`https://127.0.0.1:${port('http', 'HTTP_PORT')}${VARIABLES.HTTP_REPORT_PATH.default}`, {
      method: 'POST',
      headers: { 'content-type': 'application/tlsrpt+gzip', 'content-length': String(body.length) },
      body,
      servername: 'reports.example.com',
    });
    assert.equal(r.status, 200, r.body);
    await waitFor(
      'the three reports stored',
      async () => {
        const rows = await db.pool.query(`SELECT channel, status FROM raw_messages ORDER BY channel`);
        return rows.rows.map((row) => `${row.channel} ${row.status}`).join(', ') === 'http stored, imap stored, smtp stored';
      },
      120_000,
    );
  });

  it('serves /metrics, /healthz and /readyz (and on the plain metrics port when the code has one)', async () => {
    const https = `https://127.0.0.1:${port('http', 'HTTP_PORT')}`;
    const metrics = await request(`${https}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^tlsrpt_messages_received_total\{channel="smtp"\} /m);
    assert.equal((await request(`${https}/healthz`)).status, 200);
    const ready = await request(`${https}/readyz`);
    assert.equal(ready.status, 200, ready.body);
    if ('METRICS_PORT' in VARIABLES) {
      const plain = `http://127.0.0.1:${port('http', 'METRICS_PORT')}`;
      assert.equal((await request(`${plain}/metrics`)).status, 200);
      assert.equal((await request(`${plain}/readyz`)).status, 200);
    }
  });

  it('hosts the MTA-STS policy of deploy/etc/mta-sts for mta-sts.<domain>', async () => {
    const r = await request(`https://127.0.0.1:${port('http', 'HTTP_PORT')}/.well-known/mta-sts.txt`, {
      headers: { host: 'mta-sts.example.com' },
      servername: 'mta-sts.example.com',
    });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.equal(r.body, policy);
  });

  it('delivers an alert on the failed sessions to the webhook of .env', async () => {
    const hook = await waitFor('the alert webhook', async () => sink.requests.find((q) => q.path === '/tlsrpt-alerts'), 120_000);
    const body = hook.body as { policyDomain: string; kind: string };
    assert.equal(body.policyDomain, 'example.com');
    assert.equal(body.kind, 'failed-sessions');
  });

  it('serves the dashboard: the page at /ui/, and the API asks it to log in', async () => {
    const base = `https://127.0.0.1:${port('http', 'HTTP_PORT')}`;
    const page = await request(`${base}/ui/`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>TLS reports<\/title>/);
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(page.body)?.[1];
    assert.ok(script);
    assert.equal((await request(`${base}${script}`)).status, 200);
    const session = await request(`${base}/api/v1/session`);
    assert.equal(session.status, 401);
    assert.match(session.body, /login-required/);
  });

  it('every service stops on SIGTERM with exit status 0', async () => {
    for (const r of running) r.child.kill('SIGTERM');
    const codes = await Promise.all(running.map(async (r) => [r.name, await r.exited, r.output()] as const));
    for (const [name, code, output] of codes) assert.equal(code, 0, `${name}: ${output.slice(-2000)}`);
  });
});
