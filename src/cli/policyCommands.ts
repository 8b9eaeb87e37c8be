/**
 * `tlsrpt policy generate`, `tlsrpt policy validate` and `tlsrpt check`: the MTA-STS lifecycle around the
 * reports. Each command is a run* function (arguments, config, output) returning the exit code, so tests call
 * it in-process; registerPolicyCommands only wires commander to them.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Config } from '../config/loadConfig.js';
import { createPool } from '../db/pool.js';
import { UsageError } from '../errors.js';
import { formatRows, type Column, type OutputFormat } from '../stats/formatRows.js';
import type { CliContext } from './cliContext.js';
import { EXIT_FINDING, EXIT_OK } from './exitCodeFor.js';
import { wholeNumber } from './optionParsers.js';
import { addFormatOption, formatJson, outputFormat, type FormatOptions } from './outputFormat.js';
import type { CheckFinding } from '../policy/check/checkFinding.js';
import { checkDomain } from '../policy/check/checkDomain.js';
import { DEFAULT_REPORT_DAYS } from '../policy/check/checkReportsAgainstPolicy.js';
import { fetchPolicy, policyUrl, type FetchPolicyOptions } from '../policy/check/fetchPolicy.js';
import { DEFAULT_MAX_AGE, generatePolicy } from '../policy/generate/generatePolicy.js';
import { hostNameProblem } from '../policy/syntax/hostName.js';
import { createDnsResolver, describeResolver } from '../policy/check/lookupDomainRecords.js';
import {
  GOOGLE_GUIDE,
  GUIDE_PROBLEM_CODES,
  parseStsPolicy,
  STS_MODES,
  type PolicyRules,
  type StsMode,
} from '../policy/syntax/parseStsPolicy.js';
import type { Problem } from '../policy/syntax/problem.js';
import { PolicyInputError } from '../policy/policyErrors.js';

export type Write = (text: string) => void;

/** CSV of `policy generate`: what to publish, one row each. */
const GENERATE_COLUMNS: Column[] = [
  { name: 'kind', kind: 'text' },
  { name: 'name', kind: 'text' },
  { name: 'value', kind: 'text' },
];
/** CSV of `policy validate`: one row per problem. */
const PROBLEM_COLUMNS: Column[] = [
  { name: 'source', kind: 'text' },
  { name: 'line', kind: 'count' },
  { name: 'severity', kind: 'text' },
  { name: 'code', kind: 'text' },
  { name: 'message', kind: 'text' },
  { name: 'fix', kind: 'text' },
];
/** CSV of `check`: one row per finding, its details joined. */
const FINDING_COLUMNS: Column[] = [
  { name: 'check', kind: 'text' },
  { name: 'status', kind: 'text' },
  { name: 'summary', kind: 'text' },
  { name: 'fix', kind: 'text' },
  { name: 'details', kind: 'text' },
];

export interface GenerateOptions {
  domain: string;
  mx: string[];
  mode?: StsMode;
  maxAge?: number;
  rua?: string[];
  output?: string;
  format?: OutputFormat;
  now?: Date;
}

export function runPolicyGenerate(o: GenerateOptions, config: Config, out: Write): number {
  let g: ReturnType<typeof generatePolicy>;
  try {
    g = generatePolicy({
      domain: o.domain,
      mx: o.mx,
      mode: o.mode,
      maxAge: o.maxAge,
      rua: o.rua?.length ? o.rua : config.mtaSts.rua,
      now: o.now ?? new Date(),
    });
  } catch (err) {
    // What generate refuses is what it was given (options, TLSRPT_RUA): a usage or configuration error.
    if (err instanceof PolicyInputError) throw new UsageError('option-invalid', err.message, { cause: err });
    throw err;
  }
  if (o.output) writeFileSync(o.output, g.policyText);
  if (o.format === 'json') {
    out(
      formatJson({
        policyUrl: g.policyUrl,
        policy: g.policyText,
        records: [g.stsRecord, g.tlsrptRecord],
        warnings: g.warnings,
        written: o.output ?? null,
      }),
    );
    return EXIT_OK;
  }
  if (o.format === 'csv') {
    const rows = [
      { kind: 'policy', name: g.policyUrl, value: g.policyText },
      { kind: 'txt', name: g.stsRecord.name, value: g.stsRecord.value },
      { kind: 'txt', name: g.tlsrptRecord.name, value: g.tlsrptRecord.value },
      ...g.warnings.map((w) => ({ kind: 'warning', name: '', value: `${w.message}. ${w.fix}` })),
    ];
    out(formatRows(GENERATE_COLUMNS, rows, 'csv'));
    return EXIT_OK;
  }
  const suggested = config.mtaSts.policyDir ? join(config.mtaSts.policyDir, `${g.domain}.txt`) : null;
  if (o.output) {
    out(`# Policy written to ${o.output}; serve it at ${g.policyUrl} (Content-Type: text/plain)\n`);
  } else {
    out(
      `# Policy: serve this at ${g.policyUrl} (Content-Type: text/plain)${suggested ? `;\n# with this deployment, save it as ${suggested}` : ''}\n`,
    );
    out(g.policyText);
  }
  for (const w of g.warnings) out(`# warning: ${w.message}. ${w.fix}\n`);
  const width = Math.max(g.stsRecord.name.length, g.tlsrptRecord.name.length) + 1;
  out('\n# DNS records to publish (TXT):\n');
  out(`${`${g.stsRecord.name}.`.padEnd(width)}  TXT  "${g.stsRecord.value}"\n`);
  out(`${`${g.tlsrptRecord.name}.`.padEnd(width)}  TXT  "${g.tlsrptRecord.value}"\n`);
  out(
    `\n# Also: an A/AAAA or CNAME record for mta-sts.${g.domain} pointing at the policy host, with a certificate for that name.\n` +
      `# Change the id in _mta-sts.${g.domain} whenever the policy changes. Then run: tlsrpt check ${g.domain}\n`,
  );
  return 0;
}

export interface ValidateOptions {
  format?: OutputFormat;
  /** `google` (the default): Google's guide on top of RFC 8461; `rfc`: only what RFC 8461 requires. */
  rules?: PolicyRules;
  connectTo?: { host?: string; port?: number };
  timeoutMs?: number;
  /** Standard input, for the source "-". */
  readStdin?: () => Promise<Buffer>;
}

export async function runPolicyValidate(target: string, o: ValidateOptions, config: Config, out: Write): Promise<number> {
  let label = target;
  let body: Buffer;
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(target);
  // A bare domain means its policy URL; a missing "*.txt" is still taken as a file name (a typo'd path).
  const isDomain =
    !isUrl &&
    !existsSync(target) &&
    target.includes('.') &&
    !/\.txt$/i.test(target) &&
    !target.includes('/') &&
    hostNameProblem(target.replace(/\.$/, '')) === null;
  if (isUrl || isDomain) {
    const url = isUrl ? target : policyUrl(target.replace(/\.$/, '').toLowerCase());
    label = url;
    const fetched = await fetchPolicy(url, fetchOptions(config, o));
    if (!fetched.ok) {
      if (o.format === 'json')
        out(formatJson({ source: url, valid: false, fetch: { failure: fetched.failure, message: fetched.message }, problems: [] }));
      else if (o.format === 'csv')
        out(
          formatRows(
            PROBLEM_COLUMNS,
            [{ source: url, line: null, severity: 'error', code: fetched.failure, message: fetched.message, fix: null }],
            'csv',
          ),
        );
      else out(`${url}: error ${fetched.failure}: ${fetched.message}\n`);
      return EXIT_FINDING;
    }
    body = fetched.body;
  } else {
    try {
      body = target === '-' ? await (o.readStdin ?? (() => Promise.resolve(readFileSync(0))))() : readFileSync(target);
    } catch (err) {
      throw new PolicyInputError('policy-unreadable', `cannot read "${target}": ${(err as Error).message}`);
    }
    if (target === '-') label = '(stdin)';
  }
  const rules = o.rules ?? 'google';
  const { policy, problems } = parseStsPolicy(body, { rules });
  if (o.format === 'json') {
    out(formatJson({ source: label, valid: policy !== null, rules, policy, problems }));
    return policy ? EXIT_OK : EXIT_FINDING;
  }
  if (o.format === 'csv') {
    out(
      formatRows(
        PROBLEM_COLUMNS,
        problems.map((p) => ({ source: label, ...p })),
        'csv',
      ),
    );
    return policy ? EXIT_OK : EXIT_FINDING;
  }
  for (const p of problems) out(`${label}${p.line ? `:${p.line}` : ''}: ${p.severity} ${p.code}: ${p.message}\n    fix: ${p.fix}\n`);
  out(validationSummary(label, policy, problems));
  return policy ? EXIT_OK : EXIT_FINDING;
}

function validationSummary(label: string, policy: ReturnType<typeof parseStsPolicy>['policy'], problems: readonly Problem[]): string {
  const errors = problems.filter((p) => p.severity === 'error');
  const warnings = problems.length - errors.length;
  if (policy)
    return `${label}: valid (mode ${policy.mode}, max_age ${policy.maxAge}, mx ${policy.mx.join(', ') || '(none)'})${warnings ? `, ${warnings} warning(s)` : ''}\n`;
  const counts = `${errors.length} error(s)${warnings ? ` and ${warnings} warning(s)` : ''}`;
  // Errors only the guide makes errors: senders following RFC 8461 alone would still use the policy.
  if (errors.every((p) => GUIDE_PROBLEM_CODES.includes(p.code)))
    return `${label}: invalid under ${GOOGLE_GUIDE}, ${counts}; RFC 8461 alone would accept it (--rfc checks only the RFC)\n`;
  return `${label}: invalid, ${counts}; senders would ignore this policy\n`;
}

export interface CheckOptions {
  format?: OutputFormat;
  connectTo?: { host?: string; port?: number };
  /** Days of reports to compare with the published policy; 0 or `reports: false` skips the comparison. */
  days?: number;
  reports?: boolean;
  timeoutMs?: number;
  now?: Date;
}

export async function runCheck(domain: string, o: CheckOptions, config: Config, out: Write): Promise<number> {
  const compare = o.reports !== false && (o.days ?? DEFAULT_REPORT_DAYS) > 0;
  const pool = compare ? createPool(config.databaseUrl, { max: 2, connectionTimeoutMillis: 3000, applicationName: 'tlsrpt-check' }) : null;
  try {
    const result = await checkDomain(domain, {
      resolver: createDnsResolver(config.mtaSts.dnsServers),
      resolverName: describeResolver(config.mtaSts.dnsServers),
      fetch: fetchOptions(config, o),
      ours: { rua: config.mtaSts.rua, acceptedRecipients: config.smtp.acceptedRecipients },
      reports: pool ? { pool, days: o.days ?? DEFAULT_REPORT_DAYS } : null,
      now: o.now,
    });
    const failed = result.findings.some((f) => f.status === 'fail');
    if (o.format === 'json') {
      out(formatJson({ domain: result.domain, ok: !failed, findings: result.findings, policy: result.policy }));
    } else if (o.format === 'csv') {
      out(
        formatRows(
          FINDING_COLUMNS,
          result.findings.map((f) => ({ ...f, fix: f.fix ?? null, details: f.details?.join('\n') ?? null })),
          'csv',
        ),
      );
    } else {
      out(`MTA-STS and TLS-RPT check for ${result.domain}\n`);
      out(formatFindings(result.findings));
      const count = (s: string): number => result.findings.filter((f) => f.status === s).length;
      out(`Result: ${count('fail')} fail, ${count('warn')} warn, ${count('pass')} pass\n`);
    }
    return failed ? EXIT_FINDING : EXIT_OK;
  } finally {
    // pool.end() rejects only when called twice, a bug worth seeing.
    await pool?.end();
  }
}

export function formatFindings(findings: readonly CheckFinding[]): string {
  const width = Math.max(0, ...findings.map((f) => f.check.length));
  const pad = ' '.repeat(width + 10);
  return findings
    .map((f) => {
      let s = `  ${f.status.toUpperCase().padEnd(4)}  ${f.check.padEnd(width)}  ${f.summary}\n`;
      if (f.fix && f.status !== 'pass') s += `${pad}fix: ${f.fix}\n`;
      for (const d of f.details ?? []) s += `${pad}- ${d}\n`;
      return s;
    })
    .join('');
}

function fetchOptions(config: Config, o: { connectTo?: { host?: string; port?: number }; timeoutMs?: number }): FetchPolicyOptions {
  return {
    resolver: config.mtaSts.dnsServers.length ? createDnsResolver(config.mtaSts.dnsServers) : null,
    extraCa: config.mtaSts.extraCa ? [config.mtaSts.extraCa.pem] : [],
    connectTo: o.connectTo,
    timeoutMs: o.timeoutMs,
  };
}

/** "HOST:PORT", ":PORT", "HOST", "[::1]:8443" -> where to connect instead of the policy host's address. */
export function parseConnectTo(value: string): { host?: string; port?: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*))(?::(\d{1,5}))?$/.exec(value.trim());
  const host = m?.[1] ?? m?.[2] ?? '';
  const port = m?.[3] ? Number(m[3]) : undefined;
  if (!m || (!host && port === undefined) || (port !== undefined && (port < 1 || port > 65535))) {
    throw new InvalidArgumentError('expected HOST:PORT, :PORT or HOST (e.g. 127.0.0.1:8443)');
  }
  return { ...(host ? { host } : {}), ...(port !== undefined ? { port } : {}) };
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(/[\s,]+/).filter(Boolean)];

export function registerPolicyCommands(program: Command, ctx: CliContext): void {
  const policy = program
    .command('policy')
    .description('write and validate MTA-STS policies (RFC 8461): "policy generate", "policy validate"');

  const generate = policy
    .command('generate')
    .description('print an mta-sts.txt policy and the _mta-sts and _smtp._tls TXT records for a domain')
    .requiredOption('--domain <domain>', 'the mail domain, e.g. example.com')
    .requiredOption('--mx <host...>', 'the MX host names (as in "dig MX <domain>"); "*.example.net" allows any one label')
    .addOption(
      new Option('--mode <mode>', 'policy mode: start with testing, enforce once reports are clean')
        .choices([...STS_MODES])
        .default('testing'),
    )
    .option(
      '--max-age <seconds>',
      `policy lifetime in seconds [testing ${DEFAULT_MAX_AGE.testing}, enforce ${DEFAULT_MAX_AGE.enforce}, none ${DEFAULT_MAX_AGE.none}]`,
      wholeNumber(0, 31_557_600),
    )
    .option('--rua <uri...>', 'report addresses for _smtp._tls (mailto: or https:) [TLSRPT_RUA]', collect)
    .option('-o, --output <file>', 'write the policy to this file instead of printing it');
  addFormatOption(generate)
    .addHelpText(
      'after',
      `
The record id is made from the current time (UTC), so generating again after a change gives a new id,
which is what makes senders fetch the changed policy (RFC 8461 3.1).

Example:
  tlsrpt policy generate --domain example.com --mx mx1.example.com mx2.example.com
  tlsrpt policy generate --domain example.com --mx '*.mail.example.com' --mode enforce -o /etc/tlsrpt/mta-sts/example.com.txt`,
    )
    .action((opts: FormatOptions & { domain: string; mx: string[]; mode: StsMode; maxAge?: number; rua?: string[]; output?: string }) => {
      ctx.exitCode = runPolicyGenerate({ ...opts, format: outputFormat(opts) }, ctx.loadConfig(), ctx.out);
    });

  const validate = policy
    .command('validate')
    .description("check a policy file, URL or domain against RFC 8461 and Google's MTA-STS guide, and print every problem with its line")
    .argument(
      '<source>',
      'a policy file, "-" for standard input, an https:// URL, or a domain (fetches https://mta-sts.<domain>/.well-known/mta-sts.txt)',
    )
    .option(
      '--connect-to <host:port>',
      'fetch from this address instead of the one DNS gives (the certificate is still checked for the URL host)',
      parseConnectTo,
    )
    .option('--rfc', "check only what RFC 8461 requires: the guide's rules below stay warnings");
  addFormatOption(validate)
    .addHelpText(
      'after',
      `
By default the policy must also follow
  ${GOOGLE_GUIDE}:
"version: STSv1" on the first line, and max_age from 86400 to 31557600 seconds; each is an error naming
the guide. With --rfc they are warnings, and only what RFC 8461 requires is an error.

Exit status: 0 when the policy passes (warnings allowed), 1 when it has errors, 2 usage or configuration error.
URLs are fetched like a sender does: HTTPS with certificate validation, no redirects, status 200, at most 64 KB.

Examples:
  tlsrpt policy validate /etc/tlsrpt/mta-sts/example.com.txt
  tlsrpt policy validate example.com
  tlsrpt policy validate --rfc - < mta-sts.txt`,
    )
    .action(async (source: string, opts: FormatOptions & { connectTo?: { host?: string; port?: number }; rfc?: boolean }) => {
      ctx.exitCode = await runPolicyValidate(
        source,
        { format: outputFormat(opts), rules: opts.rfc ? 'rfc' : 'google', connectTo: opts.connectTo, readStdin: () => ctx.readStdin() },
        ctx.loadConfig(),
        ctx.out,
      );
    });

  const check = program
    .command('check')
    .description("check a domain's MX, MTA-STS and TLS-RPT set-up and compare recent reports with the published policy")
    .argument('<domain>', 'the mail domain, e.g. example.com')
    .option('--days <n>', `days of stored reports to compare with the published policy [${DEFAULT_REPORT_DAYS}]`, wholeNumber(0, 3660))
    .option('--no-reports', 'skip the comparison with stored reports (no database needed)')
    .option(
      '--connect-to <host:port>',
      'fetch the policy from this address instead of the one DNS gives (the certificate is still checked for mta-sts.<domain>)',
      parseConnectTo,
    );
  addFormatOption(check)
    .addHelpText(
      'after',
      `
Each check prints PASS, WARN or FAIL, and a fix for WARN and FAIL. Exit status 1 when any check fails.
Checks: dns-resolver (only when the resolver does not answer), mx-records, sts-record, sts-id, tlsrpt-record, rua-target, policy-host-certificate, policy-fetch,
policy-syntax, mx-coverage, reports-policy, reports-mode, reports-mx (README "MTA-STS" explains each).

Uses DNS_SERVERS (resolver), MTA_STS_CA_FILE (extra trusted CA), TLSRPT_RUA and ACCEPTED_RECIPIENTS (to tell
whether this deployment receives the reports) and DATABASE_URL (stored reports).

Example:
  tlsrpt check example.com`,
    )
    .action(
      async (domain: string, opts: FormatOptions & { days?: number; reports: boolean; connectTo?: { host?: string; port?: number } }) => {
        ctx.exitCode = await runCheck(domain, { ...opts, format: outputFormat(opts) }, ctx.loadConfig(), ctx.out);
      },
    );
}
