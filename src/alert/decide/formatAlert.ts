/**
 * Alert content -> words: a subject, a plain-text body (e-mail, logs, `tlsrpt alerts list`) and a Slack
 * mrkdwn text. Pure. The text says what happened, to which domain, seen by whom, and what to do about each
 * result type (the explanations of src/resultTypes.ts, with the domain filled in).
 */
import type {
  AlertContent,
  FailedSessionsAlert,
  HostCount,
  PolicyMode,
  QuietReporterAlert,
  ResultTypeSummary,
  TestAlert,
} from './alertContent.js';
import { terminalText } from '../../util/terminalText.js';

export interface FormattedAlert {
  subject: string;
  text: string;
  slackText: string;
}

const MODE_LABELS: Record<PolicyMode, string> = {
  enforce: 'enforce (MTA-STS)',
  testing: 'testing (MTA-STS)',
  none: 'none (MTA-STS policy being withdrawn)',
  dane: 'DANE (always enforced)',
  'no-policy': 'no policy found (TLS optional)',
  unknown: 'unknown (MTA-STS policy without a mode line, or with a mode RFC 8461 does not define)',
};

/** Result types written out in full; the rest are named in one line. */
const SHOWN_RESULT_TYPES = 5;

export function formatAlert(content: AlertContent): FormattedAlert {
  switch (content.kind) {
    case 'failed-sessions':
      return formatFailedSessions(content);
    case 'quiet-reporter':
      return formatQuietReporter(content);
    case 'test':
      return formatTest(content);
  }
}

function formatFailedSessions(a: FailedSessionsAlert): FormattedAlert {
  const domain = one(a.policyDomain) || '(no policy-domain)';
  const label = a.severity === 'critical' ? 'CRITICAL' : 'Warning';
  const s = a.sessions;
  const total = s.failed + s.successful;
  const triggered = a.resultTypes.filter((t) => t.trigger).map((t) => one(t.resultType));
  const named = triggered.length ? triggered : a.resultTypes.map((t) => one(t.resultType));
  const subject = `[tlsrpt] ${label} ${domain}: ${s.failed} failed TLS session${s.failed === 1 ? '' : 's'} (${listShort(named, 3)})`;

  const modes = a.modes.map((m) => `${MODE_LABELS[m.mode]}, as reported by ${m.organizations.map(one).join(', ')}`);
  const reporters = a.reporters.map(
    (r) =>
      `${one(r.organizationName)}${r.contactInfo ? ` <${one(r.contactInfo)}>` : ''}: ${plural(r.reports, 'report')}, ${r.failedSessions} failed, ${r.successfulSessions} successful`,
  );
  const shown = a.resultTypes.slice(0, SHOWN_RESULT_TYPES);
  const rest = a.resultTypes.slice(SHOWN_RESULT_TYPES);

  const lines = [
    `${label}: ${s.failed} of ${total} TLS sessions to ${domain} failed (${rate(s.failurePercent)})`,
    '',
    field('Domain', [domain]),
    field('Policy mode', modes),
    field('Reported by', reporters),
    field('Date range', [`${when(a.dateRange.start)} to ${when(a.dateRange.end)}`]),
    field('Sessions', [`${s.failed} failed, ${s.successful} successful, failure rate ${rate(s.failurePercent)}`]),
  ];
  if (a.criticalReasons.length) {
    lines.push('', 'Why this is critical:', ...a.criticalReasons.map((r) => `- ${r}`));
  }
  lines.push('', `Result types (${a.resultTypes.length}):`);
  shown.forEach((t, i) => {
    lines.push(
      `${i + 1}. ${one(t.resultType)}: ${plural(t.failedSessions, 'failed session')} (${status(t)})`,
      `   MX hosts:      ${hosts(t.receivingMxHostnames)}`,
      `   Receiving IPs: ${hosts(t.receivingIps)}`,
      `   Sending IPs:   ${hosts(t.sendingMtaIps)}`,
    );
    if (t.reasonCodes.length) lines.push(`   Reported reason: ${t.reasonCodes.map(one).join('; ')}`);
    lines.push(`   What it means: ${t.meaning}`, `   How to fix:    ${t.fix}`, '');
  });
  if (rest.length)
    lines.push(
      `... and ${plural(rest.length, 'more result type')}: ${rest.map((t) => `${one(t.resultType)} (${t.failedSessions})`).join(', ')}`,
      '',
    );
  lines.push(`This alert covers the reports received for ${domain} between ${when(a.window.openedAt)} and ${when(a.window.closesAt)}.`);
  if (a.resultTypes.some((t) => !t.trigger)) {
    lines.push('Result types "in cooldown" were alerted before; they are alerted again when the cooldown ends or their count grows.');
  }

  const icon = a.severity === 'critical' ? '<!here> :rotating_light:' : ':warning:';
  const slack = [
    `${icon} *${label}: failed TLS sessions for ${esc(domain)}*`,
    `*${s.failed}* of ${total} sessions failed (${rate(s.failurePercent)}) · ${esc(when(a.dateRange.start))} to ${esc(when(a.dateRange.end))}`,
    `Policy mode: ${esc(modes.join('; '))}`,
    `Reported by: ${esc(a.reporters.map((r) => `${r.organizationName} (${r.failedSessions} failed)`).join(', '))}`,
    ...a.criticalReasons.map((r) => `> ${esc(r)}`),
    ...shown.map(
      (t) =>
        `• \`${esc(t.resultType)}\`: ${plural(t.failedSessions, 'session')} (${esc(status(t))}); MX ${esc(hosts(t.receivingMxHostnames))}; ` +
        `receiving IPs ${esc(hosts(t.receivingIps))}; sending IPs ${esc(hosts(t.sendingMtaIps))}` +
        (t.reasonCodes.length ? `\n    _Reported reason:_ ${esc(t.reasonCodes.join('; '))}` : '') +
        `\n    _Means:_ ${esc(t.meaning)}\n    _Fix:_ ${esc(t.fix)}`,
    ),
    ...(rest.length ? [`…and ${plural(rest.length, 'more result type')}: ${esc(rest.map((t) => t.resultType).join(', '))}`] : []),
  ];
  return { subject, text: lines.join('\n'), slackText: slack.join('\n') };
}

function formatQuietReporter(a: QuietReporterAlert): FormattedAlert {
  const domain = one(a.policyDomain) || '(no policy-domain)';
  const org = one(a.organizationName);
  const subject = `[tlsrpt] Warning ${domain}: ${org} has sent no TLS report for ${plural(a.daysSilent, 'day')}`;
  const lead =
    `${org}${a.contactInfo ? ` <${one(a.contactInfo)}>` : ''} sent TLS reports for ${domain} on ` +
    `${a.daysReportedInLastWeek} of the 7 days up to ${when(a.lastReportEnd)}, and none since (${plural(a.daysSilent, 'day')}).`;
  const causes = [
    `the _smtp._tls.${domain} TXT record was changed or removed, or its rua= no longer points here;`,
    'this service or the MX of the rua address stopped accepting mail (check the receiver log and raw_messages);',
    `the reporter stopped sending mail to ${domain} (Microsoft, for one, reports only days on which it delivered mail).`,
  ];
  const text = [`Warning: ${lead}`, '', 'Possible causes:', ...causes.map((c) => `- ${c}`)].join('\n');
  const slackText = [`:warning: *Quiet reporter for ${esc(domain)}*`, esc(lead), ...causes.map((c) => `• ${esc(c)}`)].join('\n');
  return { subject, text, slackText };
}

function formatTest(a: TestAlert): FormattedAlert {
  const lead = `This is a test alert from tlsrpt, sent by "tlsrpt alerts test" at ${when(a.sentAt)}.`;
  const next = 'If you can read it, alerts about failed TLS sessions will reach you here.';
  return {
    subject: '[tlsrpt] Test alert',
    text: `${lead}\n${next}`,
    slackText: `:white_check_mark: *tlsrpt test alert*\n${esc(lead)}\n${esc(next)}`,
  };
}

function status(t: ResultTypeSummary): string {
  const parts = t.critical ? ['critical'] : [];
  const prev = t.previous;
  switch (t.trigger) {
    case 'new':
      parts.push('new');
      break;
    case 'now-critical':
      parts.push('now critical');
      break;
    case 'grown':
      parts.push(`grown from ${prev?.failedSessions} in the alert of ${day(prev?.alertedAt)}`);
      break;
    case 'cooldown-over':
      parts.push(`still failing since the alert of ${day(prev?.alertedAt)}`);
      break;
    case null:
      parts.push(prev ? `in cooldown: alerted ${day(prev.alertedAt)} with ${prev.failedSessions}` : 'in cooldown');
      break;
  }
  return parts.join(', ');
}

function field(name: string, values: string[]): string {
  const pad = ' '.repeat(14);
  const [first = '(none)', ...more] = values;
  return [`${`${name}:`.padEnd(14)}${first}`, ...more.map((v) => `${pad}${v}`)].join('\n');
}

function hosts(list: HostCount[]): string {
  return list.length ? list.map((h) => `${one(h.value)} (${h.sessions})`).join(', ') : 'not reported';
}

function listShort(names: string[], n: number): string {
  return names.length > n ? `${names.slice(0, n).join(', ')}, +${names.length - n} more` : names.join(', ');
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function rate(percent: number): string {
  return percent > 0 && percent < 0.01 ? '<0.01%' : `${percent}%`;
}

/** "2026-02-08T23:59:59.000Z" -> "2026-02-08 23:59:59 UTC" */
export function when(iso: string): string {
  return iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
}

function day(iso: string | undefined): string {
  return iso ? iso.slice(0, 10) : 'an earlier day';
}

/**
 * Text from a report (names, host names, reason codes) comes from anyone who can mail us: kept on one line,
 * its control characters shown escaped (src/util/terminalText.ts), so a CR/LF cannot add lines to the
 * e-mail body or headers, or forge a "How to fix" line.
 */
function one(s: string): string {
  return terminalText(s);
}

/**
 * Slack mrkdwn reserves &, < and >: escaped, so a report cannot write `<!here>`, `<!channel>` or a
 * disguised link `<https://evil|click>`. Mattermost, Rocket.Chat and Slack's own clients also act on a bare
 * `@channel`, `@here`, `@everyone` or `@all`: a word joiner after the `@` keeps it readable and inert.
 * Only our own `<!here>` for critical alerts is written outside esc().
 */
export function esc(s: string): string {
  return terminalText(s)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replace(/@(?=(?:channel|here|everyone|all)\b)/gi, '@\u2060');
}
