/**
 * Two shapes of a report, as in RFC 8460 section 4 and as we use it internally, with one conversion
 * (toTlsReport) between them. The wire type is what the schema guarantees after normalisation.
 */

/** RFC 8460 4.4, after normalisation and schema validation. */
export interface WireReport {
  'organization-name': string;
  'date-range': { 'start-datetime': string; 'end-datetime': string };
  'contact-info'?: string | null;
  'report-id': string;
  policies: WirePolicyEntry[];
}

export interface WirePolicyEntry {
  policy: {
    'policy-type': PolicyType;
    'policy-string'?: string[];
    'policy-domain'?: string;
    'mx-host'?: string[];
  };
  summary: { 'total-successful-session-count': number; 'total-failure-session-count': number };
  'failure-details'?: WireFailureDetail[];
}

export interface WireFailureDetail {
  'result-type': string;
  'sending-mta-ip'?: string;
  'receiving-mx-hostname'?: string;
  'receiving-mx-helo'?: string;
  'receiving-ip'?: string;
  'failed-session-count': number;
  'additional-information'?: string;
  'failure-reason-code'?: string;
}

export type PolicyType = 'tlsa' | 'sts' | 'no-policy-found';

/** The internal report: camelCase, dates parsed, optional lists made empty. */
export interface TlsReport {
  organizationName: string;
  reportId: string;
  contactInfo: string | null;
  startAt: Date;
  endAt: Date;
  policies: TlsPolicy[];
}

export interface TlsPolicy {
  policyType: PolicyType;
  policyDomain: string | null;
  policyString: string[];
  mxHost: string[];
  successfulSessions: number;
  failedSessions: number;
  failureDetails: TlsFailureDetail[];
}

export interface TlsFailureDetail {
  resultType: string;
  sendingMtaIp: string | null;
  receivingMxHostname: string | null;
  receivingMxHelo: string | null;
  receivingIp: string | null;
  failedSessions: number;
  additionalInformation: string | null;
  failureReasonCode: string | null;
}

export function toTlsReport(w: WireReport): TlsReport {
  return {
    organizationName: w['organization-name'],
    reportId: w['report-id'],
    contactInfo: w['contact-info'] ?? null,
    startAt: new Date(w['date-range']['start-datetime']),
    endAt: new Date(w['date-range']['end-datetime']),
    policies: w.policies.map((p) => ({
      policyType: p.policy['policy-type'],
      policyDomain: p.policy['policy-domain'] ?? null,
      policyString: p.policy['policy-string'] ?? [],
      mxHost: p.policy['mx-host'] ?? [],
      successfulSessions: p.summary['total-successful-session-count'],
      failedSessions: p.summary['total-failure-session-count'],
      failureDetails: (p['failure-details'] ?? []).map((d) => ({
        resultType: d['result-type'],
        sendingMtaIp: d['sending-mta-ip'] ?? null,
        receivingMxHostname: d['receiving-mx-hostname'] ?? null,
        receivingMxHelo: d['receiving-mx-helo'] ?? null,
        receivingIp: d['receiving-ip'] ?? null,
        failedSessions: d['failed-session-count'],
        additionalInformation: d['additional-information'] ?? null,
        failureReasonCode: d['failure-reason-code'] ?? null,
      })),
    })),
  };
}
