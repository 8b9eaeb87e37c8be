/** The Report, Quarantine and Alerts pages. */
import { api, ApiError, currentUser, qs } from '../api.js';
import { count, domainLink, h, table, time } from '../dom.js';

interface Report {
  id: number;
  organization_name: string;
  report_id: string;
  contact_info: string | null;
  start_at: string;
  end_at: string;
  stored_at: string;
  fixups: string[];
  report_json: { policies?: Array<{ policy?: { 'policy-domain'?: string } }> };
  raw_message_id: number;
  channel: string;
  received_at: string;
  remote_address: string | null;
  mail_from: string | null;
  rcpt_to: string[];
  size_bytes: number;
  tls_report_domain: string | null;
  tls_report_submitter: string | null;
  attachment_filename: string | null;
  authenticated: boolean;
  authenticated_by: string | null;
  authentication: { method?: string; result?: string } | null;
}

const CHANNELS: Record<string, string> = {
  smtp: 'mail (SMTP)',
  http: 'HTTPS POST',
  imap: 'mailbox (IMAP)',
  ingest: 'tlsrpt ingest (backfill)',
};

export async function reportPage(main: HTMLElement, id: string): Promise<void> {
  const r = await api.get<Report>(`/reports/${encodeURIComponent(id)}`);
  const domains = [...new Set((r.report_json.policies ?? []).map((p) => p.policy?.['policy-domain']).filter((d): d is string => !!d))];
  const fields: Array<[string, Node | string]> = [
    ['Reporter', r.organization_name],
    ['Report ID', r.report_id],
    ['Contact', r.contact_info ?? '–'],
    ['Period', `${time(r.start_at)} – ${time(r.end_at)}`],
    ['Policy domains', h('span', {}, ...domains.flatMap((d, i) => [i ? ', ' : '', domainLink(d)]))],
    ['Arrived by', CHANNELS[r.channel] ?? r.channel],
    ['Received', `${time(r.received_at)} from ${r.remote_address ?? '–'}`],
    ['Envelope', r.mail_from ? `${r.mail_from} → ${r.rcpt_to.join(', ')}` : '–'],
    ['TLS-Report-Domain / Submitter', `${r.tls_report_domain ?? '–'} / ${r.tls_report_submitter ?? '–'}`],
    ['Attachment', r.attachment_filename ?? '–'],
    ['Fix-ups applied', r.fixups.length ? r.fixups.join(', ') : 'none (the report followed RFC 8460)'],
    ['Authenticated (DKIM)', r.authenticated ? `yes, by ${r.authenticated_by ?? '?'}` : 'no'],
    ['This copy proved', r.authentication ? JSON.stringify(r.authentication) : 'not verified'],
    ['Raw message', h('a', { href: `/api/v1/reports/${r.id}/raw`, download: '' }, `download (${count(r.size_bytes)} bytes)`)],
  ];
  main.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/domains' }, 'Domains'), ' › report ', String(r.id)),
    h('h1', {}, `Report ${r.report_id}`),
    h('dl', { class: 'fields' }, ...fields.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    h('h2', {}, 'Normalised report JSON'),
    h('pre', { class: 'json' }, JSON.stringify(r.report_json, null, 2)),
  );
}

interface Quarantine {
  reasons: Array<{ reason: string; messages: number; meaning: string | null }>;
  messages: Array<{
    id: number;
    received_at: string;
    channel: string;
    sender: string | null;
    reason: string;
    detail: string | null;
    size_bytes: number;
  }>;
}

export async function quarantinePage(main: HTMLElement, params: URLSearchParams): Promise<void> {
  const reason = params.get('reason');
  const q = await api.get<Quarantine>(`/quarantine${qs({ reason, limit: 100 })}`);
  const admin = currentUser()?.role === 'admin';
  const status = h('p', { class: 'status', id: 'reprocess-status', role: 'status' });
  const reprocess = async (id: number, button: HTMLButtonElement) => {
    button.disabled = true;
    try {
      const res = await api.post<{ id: number; outcome: string; reason: string | null }>(`/quarantine/${id}/reprocess`);
      status.textContent = `Message ${id}: ${res.outcome}${res.reason ? ` (${res.reason})` : ''}.`;
      if (res.outcome !== 'quarantined') button.closest('tr')?.classList.add('done');
    } catch (err) {
      status.textContent = `Message ${id}: ${err instanceof ApiError ? err.message : String(err)}`;
    } finally {
      button.disabled = false;
    }
  };
  main.replaceChildren(
    h('h1', {}, 'Quarantine'),
    h(
      'p',
      { class: 'lede' },
      'Messages that could not be stored as reports, and why (README "Quarantine reasons"). Reprocessing runs a message through the current parser again, as tlsrpt reprocess does.',
    ),
    q.reasons.length
      ? table(
          ['Reason', ['Messages', 'num'], 'What it means'],
          q.reasons.map((r) => [
            h('a', { href: `#/quarantine?reason=${encodeURIComponent(r.reason)}` }, r.reason),
            h('span', { class: 'num' }, count(r.messages)),
            r.meaning ?? '',
          ]),
          { class: 'reasons' },
        )
      : h('p', {}, 'Nothing is quarantined.'),
    ...(reason ? [h('p', {}, `Showing ${reason} only. `, h('a', { href: '#/quarantine' }, 'show all'))] : []),
    status,
    table(
      ['Message', 'Received', 'Channel', 'Sender', 'Reason', 'Detail', 'Raw', ''],
      q.messages.map((m) => {
        const button = h(
          'button',
          { type: 'button', class: 'reprocess', disabled: !admin, title: admin ? null : 'needs the admin role' },
          'reprocess',
        );
        button.addEventListener('click', () => void reprocess(m.id, button));
        return [
          h('a', { href: `#/quarantine/${m.id}` }, String(m.id)),
          time(m.received_at),
          m.channel,
          m.sender ?? '–',
          h('code', {}, m.reason),
          h('span', { class: 'detail' }, m.detail ?? ''),
          h('a', { href: `/api/v1/quarantine/${m.id}/raw`, download: '' }, 'download'),
          button,
        ];
      }),
      { class: 'messages' },
    ),
  );
}

interface RawMessage {
  id: number;
  channel: string;
  received_at: string;
  remote_address: string | null;
  helo: string | null;
  mail_from: string | null;
  rcpt_to: string[];
  size_bytes: number;
  status: string;
  reason: string | null;
  detail: string | null;
  attempts: number;
  last_error: string | null;
  report_id: number | null;
}

/** One raw message: what `tlsrpt quarantine show ID` prints. */
export async function messagePage(main: HTMLElement, id: string): Promise<void> {
  const m = await api.get<RawMessage>(`/quarantine/${encodeURIComponent(id)}`);
  const fields: Array<[string, Node | string]> = [
    ['State', m.status],
    ['Reason', m.reason ? h('code', {}, m.reason) : '–'],
    ['Detail', h('span', { class: 'detail' }, m.detail ?? '–')],
    ['Arrived by', CHANNELS[m.channel] ?? m.channel],
    ['Received', `${time(m.received_at)} from ${m.remote_address ?? '–'}${m.helo ? ` (HELO ${m.helo})` : ''}`],
    ['Envelope', m.mail_from ? `${m.mail_from} → ${m.rcpt_to.join(', ')}` : '–'],
    ['Attempts', String(m.attempts)],
    ['Last error', m.last_error ?? '–'],
    ['Report', m.report_id ? h('a', { href: `#/report/${m.report_id}` }, String(m.report_id)) : '–'],
    ['Raw message', h('a', { href: `/api/v1/quarantine/${m.id}/raw`, download: '' }, `download (${count(m.size_bytes)} bytes)`)],
  ];
  main.replaceChildren(
    h('p', { class: 'crumbs' }, h('a', { href: '#/quarantine' }, 'Quarantine'), ' › message ', String(m.id)),
    h('h1', {}, `Message ${m.id}`),
    h('dl', { class: 'fields' }, ...fields.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
  );
}

interface Alert {
  id: number;
  created_at: string;
  kind: string;
  severity: string;
  policy_domain: string;
  subject: string;
  status: string;
  items: Array<{ result_type: string; failed_sessions: number; triggered: boolean }>;
  deliveries: Array<{
    kind: string;
    target: string;
    status: string;
    attempts: number;
    last_error_code: string | null;
    last_error: string | null;
  }>;
}

export async function alertsPage(main: HTMLElement): Promise<void> {
  const { alerts } = await api.get<{ alerts: Alert[] }>('/alerts?limit=100');
  main.replaceChildren(
    h('h1', {}, 'Alerts'),
    h('p', { class: 'lede' }, 'Alerts sent, newest first, with where each went and how its delivery ended (README "Alerts").'),
    alerts.length
      ? table(
          ['Sent', 'Domain', 'Severity', 'Subject', 'Result types', 'Status', 'Deliveries'],
          alerts.map((a) => [
            time(a.created_at),
            domainLink(a.policy_domain),
            h('span', { class: `sev sev-${a.severity}` }, a.severity),
            a.subject,
            a.items.map((i) => `${i.result_type} (${count(i.failed_sessions)})`).join(', '),
            a.status,
            h(
              'ul',
              { class: 'deliveries' },
              ...a.deliveries.map((d) =>
                h(
                  'li',
                  {},
                  `${d.kind} ${d.target}: ${d.status}, ${d.attempts} attempt${d.attempts === 1 ? '' : 's'}`,
                  d.last_error_code ? ` (${d.last_error_code})` : '',
                ),
              ),
            ),
          ]),
          { class: 'alerts' },
        )
      : h('p', {}, 'No alerts so far.'),
  );
}
