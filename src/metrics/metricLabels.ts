/**
 * Label values for the Prometheus series, bounded so that what senders write cannot grow the number of
 * series without limit: every value outside a known set becomes "other". Pure functions, no I/O.
 */
import { QUARANTINE_REASONS } from '../errors.js';
import { RESULT_TYPES } from '../resultTypes.js';

export const OTHER = 'other';
/** The policy_domain label of a policy that names no domain (quirk 8: no-policy-found without policy-domain). */
export const NO_DOMAIN = 'none';

/** RFC 8460 4.3 policy-type values. */
export const POLICY_TYPES = ['sts', 'tlsa', 'no-policy-found'] as const;

export function policyTypeLabel(policyType: string | null): string {
  return policyType && (POLICY_TYPES as readonly string[]).includes(policyType) ? policyType : OTHER;
}

/** The IANA registry is extensible (RFC 8460 6.4, quirk 12): types this version does not know count as "other". */
export function resultTypeLabel(resultType: string | null): string {
  return resultType && Object.hasOwn(RESULT_TYPES, resultType) ? resultType : OTHER;
}

export function quarantineReasonLabel(reason: string | null): string {
  return reason && Object.hasOwn(QUARANTINE_REASONS, reason) ? reason : OTHER;
}

/**
 * policy_domain label values: the configured domains (METRICS_DOMAINS) always, then the first `maxSeen`
 * other domains in the order their first report was stored, then "other". First-stored order makes the
 * choice the same in every process that reads the same database.
 */
export class DomainLabels {
  private readonly configured: ReadonlySet<string>;
  private readonly seen = new Set<string>();

  constructor(
    configured: readonly string[],
    private readonly maxSeen: number,
  ) {
    this.configured = new Set(configured);
  }

  /** The label for `domain`, giving it a series of its own while there is room. */
  label(domain: string | null): string {
    if (!domain) return NO_DOMAIN;
    const d = domain.toLowerCase();
    if (this.configured.has(d) || this.seen.has(d)) return d;
    if (this.seen.size < this.maxSeen) {
      this.seen.add(d);
      return d;
    }
    return OTHER;
  }

  get configuredDomains(): readonly string[] {
    return [...this.configured];
  }
}
