/** The Domains page: every policy domain with its verdict, sessions and failure rate over the window. */
import { api, qs } from '../api.js';
import { sparkline } from '../charts.js';
import { count, domainLink, h, percent, time } from '../dom.js';
import { DEFAULTS, loadThresholds, saveThresholds, type Thresholds } from '../thresholds.js';

interface DomainRow {
  policy_domain: string;
  policy_mode: string | null;
  published_mode: string | null;
  ready: boolean;
  reason: string;
  days_with_reports: number;
  reporters: number;
  successful_sessions: number;
  failed_sessions: number;
  failure_rate: number | null;
  top_result_type: string | null;
  last_report_at: string | null;
  daily: Array<[string, number, number]>;
}

interface DomainList {
  total: number;
  rollup: { notice: string | null };
  window: { from: string; until: string };
  domains: DomainRow[];
}

const PAGE = 50;

const COLUMNS: Array<{ key: string; label: string; sort?: string; num?: boolean }> = [
  { key: 'domain', label: 'Policy domain', sort: 'policy_domain' },
  { key: 'mode', label: 'Mode reported (published)' },
  { key: 'ready', label: 'Ready to enforce?', sort: 'ready' },
  { key: 'sessions', label: 'Sessions', sort: 'sessions', num: true },
  { key: 'failed', label: 'Failed', sort: 'failed_sessions', num: true },
  { key: 'rate', label: 'Failure rate', sort: 'failure_rate', num: true },
  { key: 'chart', label: 'Per day' },
  { key: 'reporters', label: 'Reporters', sort: 'reporters', num: true },
  { key: 'last', label: 'Last report received', sort: 'last_report_at' },
];

export function thresholdForm(t: Thresholds, onChange: (t: Thresholds) => void): HTMLElement {
  const field = (
    name: 'days' | 'max_failure_rate' | 'min_days' | 'min_reporters',
    label: string,
    attrs: Record<string, string>,
    toShow: (v: number) => string,
    fromInput: (s: string) => number,
  ) =>
    h(
      'label',
      {},
      label,
      h('input', {
        name,
        type: 'number',
        value: toShow(t[name]),
        ...attrs,
        onchange: (e: Event) => {
          const v = fromInput((e.target as HTMLInputElement).value);
          if (Number.isFinite(v)) onChange({ ...t, [name]: v });
        },
      }),
    );
  const same = (v: number) => String(v);
  return h(
    'form',
    { class: 'thresholds', onsubmit: (e: Event) => e.preventDefault() },
    h('strong', {}, 'Readiness thresholds'),
    field('days', 'window (days)', { min: '1', max: '3660', step: '1' }, same, Number),
    field(
      'max_failure_rate',
      'max failure rate (%)',
      { min: '0', max: '100', step: 'any' },
      (v) => String(Number((v * 100).toFixed(5))),
      (s) => Number(s) / 100,
    ),
    field('min_days', 'min days with reports', { min: '0', max: '3660', step: '1' }, same, Number),
    field('min_reporters', 'min reporters', { min: '0', step: '1' }, same, Number),
    h(
      'label',
      { class: 'check', title: 'count only reporters whose reports were authenticated (DKIM-signed mail, trusted HTTPS)' },
      h('input', {
        name: 'authenticated_only',
        type: 'checkbox',
        checked: t.authenticated_only,
        onchange: (e: Event) => onChange({ ...t, authenticated_only: (e.target as HTMLInputElement).checked }),
      }),
      'authenticated reporters only',
    ),
    h('button', { type: 'button', onclick: () => onChange({ ...DEFAULTS }) }, 'defaults'),
  );
}

export async function domainsPage(main: HTMLElement, params: URLSearchParams): Promise<void> {
  const thresholds = loadThresholds();
  const q = params.get('q') ?? '';
  const ready = params.get('ready') ?? '';
  const sort = params.get('sort') ?? 'policy_domain';
  const order = params.get('order') ?? 'asc';
  const page = Math.max(0, Number(params.get('page') ?? 0) || 0);
  const go = (changes: Record<string, string | number>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) next.set(k, String(v));
    location.hash = `#/domains?${next.toString()}`;
  };

  const list = await api.get<DomainList>(
    `/domains${qs({ ...thresholds, q, ready: ready || null, sort, order, limit: PAGE, offset: page * PAGE })}`,
  );

  const header = COLUMNS.map((c) =>
    h(
      'th',
      { class: c.num ? 'num' : null },
      c.sort
        ? h(
            'a',
            {
              href: '#',
              onclick: (e: Event) => (
                e.preventDefault(),
                go({ sort: c.sort!, order: sort === c.sort && order === 'asc' ? 'desc' : 'asc', page: 0 })
              ),
            },
            c.label,
            sort === c.sort ? (order === 'asc' ? ' ▲' : ' ▼') : '',
          )
        : c.label,
    ),
  );
  const rows = list.domains.map((d) => {
    const chart = h('div', { class: 'spark' });
    const tr = h(
      'tr',
      { 'data-domain': d.policy_domain },
      h('td', {}, domainLink(d.policy_domain)),
      h(
        'td',
        {},
        d.policy_mode ?? '–',
        d.published_mode ? h('span', { class: 'muted', title: 'the policy this server hosts' }, ` (${d.published_mode})`) : null,
      ),
      h(
        'td',
        { class: d.ready ? 'ready' : 'not-ready', title: d.reason },
        h('span', { class: 'badge' }, d.ready ? 'ready' : 'not yet'),
        ' ',
        h('span', { class: 'reason' }, d.reason),
      ),
      h('td', { class: 'num' }, count(d.successful_sessions + d.failed_sessions)),
      h('td', { class: 'num' }, count(d.failed_sessions)),
      h('td', { class: 'num' }, percent(d.failure_rate)),
      h('td', {}, chart),
      h('td', { class: 'num' }, count(d.reporters)),
      h('td', {}, time(d.last_report_at)),
    );
    queueMicrotask(() => sparkline(chart, d.daily, list.window.from, list.window.until));
    return tr;
  });

  const search = h('input', { type: 'search', name: 'q', placeholder: 'filter domains', value: q });
  const readySelect = h(
    'select',
    { name: 'ready', onchange: (e: Event) => go({ ready: (e.target as HTMLSelectElement).value, page: 0 }) },
    h('option', { value: '', selected: ready === '' }, 'all domains'),
    h('option', { value: 'true', selected: ready === 'true' }, 'ready'),
    h('option', { value: 'false', selected: ready === 'false' }, 'not ready'),
  );
  const pages = Math.max(1, Math.ceil(list.total / PAGE));
  main.replaceChildren(
    h('h1', {}, 'Domains'),
    h(
      'p',
      { class: 'lede' },
      `Can each domain move its MTA-STS policy to mode: enforce? Window: ${list.window.from} to ${list.window.until} (exclusive), the last ${thresholds.days} whole UTC days. Sessions listed under both tlsa and sts are counted once.`,
    ),
    ...(list.rollup.notice ? [h('p', { class: 'error', role: 'status' }, list.rollup.notice)] : []),
    thresholdForm(thresholds, (t) => {
      saveThresholds(t);
      go({ page: 0 });
    }),
    h(
      'form',
      { class: 'filters', onsubmit: (e: Event) => (e.preventDefault(), go({ q: search.value.trim(), page: 0 })) },
      search,
      readySelect,
      h('button', { type: 'submit' }, 'filter'),
      h('span', { class: 'total' }, `${count(list.total)} domain${list.total === 1 ? '' : 's'}`),
    ),
    h('table', { class: 'domains' }, h('thead', {}, h('tr', {}, ...header)), h('tbody', {}, ...rows)),
    h(
      'nav',
      { class: 'pager' },
      h('button', { disabled: page === 0, onclick: () => go({ page: page - 1 }) }, '‹ previous'),
      ` page ${page + 1} of ${pages} `,
      h('button', { disabled: page + 1 >= pages, onclick: () => go({ page: page + 1 }) }, 'next ›'),
    ),
  );
}
