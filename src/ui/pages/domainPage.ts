/**
 * The Domain page: sessions per day (stacked), the same split by reporter or by policy type, failures by
 * result type with their meaning and fix, by receiving MX and IP and by sending IP, the modes reporters saw,
 * the verdict, and the reports.
 */
import type { DomainDetail as ApiDomainDetail, FailureRow } from '../../api/domainQueries.js';
import { api, qs } from '../api.js';
import { COLOURS, stackedBars } from '../charts.js';
import { count, h, percent, table, time } from '../dom.js';
import { loadThresholds, saveThresholds } from '../thresholds.js';
import { thresholdForm } from './domainsPage.js';

/** The response of GET /api/v1/domains/{domain}: the detail as src/api/domainQueries.ts reads it, and the mode this server publishes. */
type DomainDetail = ApiDomainDetail & { published_mode: string | null };

interface ReportRow {
  id: number;
  organization_name: string;
  report_id: string;
  start_at: string;
  end_at: string;
  channel: string;
  successful_sessions: number;
  failed_sessions: number;
  policy_types: string;
  fixups: string[];
}

function daysFrom(since: string, until: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${since}T00:00:00Z`); t <= Date.parse(`${until}T00:00:00Z`); t += 86_400_000)
    out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

function chartWidth(main: HTMLElement): number {
  return Math.max(480, Math.min(1100, main.clientWidth - 40));
}

export async function domainPage(main: HTMLElement, domain: string, params: URLSearchParams): Promise<void> {
  const thresholds = loadThresholds();
  const since = params.get('since') ?? '';
  const by = params.get('by') === 'policy-type' ? 'policy-type' : 'reporter';
  const go = (changes: Record<string, string>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) next.set(k, v);
    location.hash = `#/domain/${encodeURIComponent(domain)}?${next.toString()}`;
  };
  const [d, reports] = await Promise.all([
    api.get<DomainDetail>(`/domains/${encodeURIComponent(domain)}${qs({ ...thresholds, since: since || null, by })}`),
    api.get<{ reports: ReportRow[] }>(`/reports${qs({ domain, limit: 50 })}`),
  ]);
  const today = new Date().toISOString().slice(0, 10);
  const days = daysFrom(d.since, today);
  const index = new Map(days.map((day, i) => [day, i]));
  const zeros = () => days.map(() => 0);

  const totals = { ok: zeros(), failed: zeros() };
  for (const r of d.daily) {
    const i = index.get(r.day);
    if (i === undefined) continue;
    totals.ok[i] = r.successful_sessions;
    totals.failed[i] = r.failed_sessions;
  }
  const keys = [...new Set(d.daily_by.map((r) => r.key))].sort();
  const byKey = new Map(keys.map((k) => [k, zeros()]));
  for (const r of d.daily_by) {
    const i = index.get(r.day);
    if (i !== undefined) byKey.get(r.key)![i] = r.successful_sessions + r.failed_sessions;
  }

  const totalChart = h('div', { class: 'chart', id: 'chart-daily' });
  const byChart = h('div', { class: 'chart', id: 'chart-by' });
  const r = d.readiness;
  const maxFailed = Math.max(1, ...d.failures.result_type.map((f) => f.failed_sessions));
  const failureTable = (rows: FailureRow[], keyLabel: string) =>
    rows.length
      ? table(
          [keyLabel, ['Failed sessions', 'num'], 'Result types'],
          rows.map((f) => [f.key ?? '(not reported)', h('span', { class: 'num' }, count(f.failed_sessions)), f.result_types ?? '']),
          { class: 'failures' },
        )
      : h('p', { class: 'muted' }, 'No failures reported.');

  main.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/domains' }, 'Domains'), ' › ', domain),
    h('h1', {}, domain),
    h(
      'section',
      { class: `verdict ${r.ready ? 'ready' : 'not-ready'}`, id: 'verdict' },
      h('strong', {}, r.ready ? 'Ready to move to mode: enforce' : 'Not ready for mode: enforce'),
      h('p', {}, r.reason),
      h(
        'dl',
        { class: 'figures' },
        h('dt', {}, 'reported mode'),
        h('dd', {}, r.policy_mode ?? '–'),
        h('dt', {}, 'published mode'),
        h('dd', { title: 'the MTA-STS policy this server hosts (README "MTA-STS")' }, d.published_mode ?? 'not hosted here'),
        h('dt', {}, 'sessions'),
        h('dd', { id: 'window-sessions' }, count(r.successful_sessions + r.failed_sessions)),
        h('dt', {}, 'failed'),
        h('dd', { id: 'window-failed' }, count(r.failed_sessions)),
        h('dt', {}, 'failure rate'),
        h('dd', { id: 'window-rate' }, percent(r.failure_rate)),
        h('dt', {}, 'days with reports'),
        h('dd', {}, count(r.days_with_reports)),
        h('dt', {}, 'reporters'),
        h('dd', {}, count(r.reporters)),
      ),
      h(
        'p',
        { class: 'muted' },
        `Over the last ${thresholds.days} whole UTC days. Compare with the policy the domain publishes: `,
        h('code', {}, `tlsrpt check ${domain}`),
        ' (README "tlsrpt check DOMAIN"), or ',
        h(
          'a',
          { href: `https://mta-sts.${domain}/.well-known/mta-sts.txt`, target: '_blank', rel: 'noopener noreferrer' },
          'its published policy file',
        ),
        '.',
      ),
    ),
    thresholdForm(thresholds, (t) => {
      saveThresholds(t);
      go({});
    }),
    h(
      'form',
      { class: 'filters', onsubmit: (e: Event) => e.preventDefault() },
      h(
        'label',
        {},
        'from ',
        h('input', {
          type: 'date',
          name: 'since',
          value: d.since,
          onchange: (e: Event) => go({ since: (e.target as HTMLInputElement).value }),
        }),
      ),
    ),
    h('h2', {}, 'Sessions per day'),
    h('p', { class: 'muted' }, 'Each session counted once, also when a reporter lists it under both tlsa and sts.'),
    totalChart,
    h(
      'h2',
      {},
      'Sessions per day by ',
      h(
        'select',
        { name: 'by', onchange: (e: Event) => go({ by: (e.target as HTMLSelectElement).value }) },
        h('option', { value: 'reporter', selected: by === 'reporter' }, 'reporter'),
        h('option', { value: 'policy-type', selected: by === 'policy-type' }, 'policy type (as reported: tlsa and sts each)'),
      ),
    ),
    byChart,
    h('h2', {}, 'Failures by result type'),
    d.failures.result_type.length
      ? table(
          ['Result type', ['Failed sessions', 'num'], 'Reporters', 'What it means', 'How to fix it'],
          d.failures.result_type.map((f) => [
            h('code', {}, f.key ?? ''),
            h('span', { class: 'num bar', style: `--w:${Math.round((100 * f.failed_sessions) / maxFailed)}%` }, count(f.failed_sessions)),
            count(f.reporters),
            f.meaning ?? '',
            f.fix ?? '',
          ]),
          { class: 'failures', id: 'result-types' },
        )
      : h('p', { class: 'muted' }, 'No failures reported.'),
    h(
      'div',
      { class: 'columns' },
      h('section', {}, h('h3', {}, 'By receiving MX'), failureTable(d.failures.receiving_mx, 'Receiving MX')),
      h('section', {}, h('h3', {}, 'By receiving IP'), failureTable(d.failures.receiving_ip, 'Receiving IP')),
      h('section', {}, h('h3', {}, 'By sending IP'), failureTable(d.failures.sending_ip, 'Sending MTA IP')),
    ),
    h('h2', {}, 'MTA-STS mode as reporters saw it'),
    d.modes.length
      ? h(
          'ol',
          { class: 'timeline' },
          ...d.modes.map((m) =>
            h(
              'li',
              {},
              h('span', { class: `mode mode-${m.modes.length === 1 ? m.modes[0] : 'mixed'}` }, m.modes.join(' + ')),
              ` ${m.first_day} – ${m.last_day}`,
              h('span', { class: 'muted' }, ` (${m.reporters.join(', ')})`),
            ),
          ),
        )
      : h('p', { class: 'muted' }, 'No report quotes an sts policy for this domain in the period.'),
    h('h2', {}, 'Reports'),
    table(
      ['Report', 'Reporter', 'From', 'To', 'Arrived by', 'Policy types', ['OK', 'num'], ['Failed', 'num'], 'Fix-ups'],
      reports.reports.map((x) => [
        h('a', { href: `#/report/${x.id}` }, String(x.id)),
        x.organization_name,
        time(x.start_at),
        time(x.end_at),
        x.channel,
        x.policy_types,
        h('span', { class: 'num' }, count(x.successful_sessions)),
        h('span', { class: 'num' }, count(x.failed_sessions)),
        x.fixups.join(', '),
      ]),
      { class: 'reports' },
    ),
  );

  const width = chartWidth(main);
  stackedBars(
    totalChart,
    days,
    [
      { label: 'successful', values: totals.ok, colour: COLOURS[0] },
      { label: 'failed', values: totals.failed, colour: COLOURS[1] },
    ],
    { width, height: 240 },
  );
  stackedBars(
    byChart,
    days,
    keys.map((k, i) => ({ label: k, values: byKey.get(k)!, colour: COLOURS[(i + 2) % COLOURS.length] })),
    { width, height: 240 },
  );
}
