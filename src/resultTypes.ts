/**
 * The IANA "STARTTLS Validation Result Types" registry (RFC 8460 section 6.4 and 4.3), with what each
 * result usually means and how to fix it. One table, used by the alerts, the CLI and the README.
 * The registry is extensible: a type not listed here is stored verbatim and explained generically.
 */
export interface ResultTypeInfo {
  /** Which RFC 8460 4.3 group the result belongs to. */
  group: 'negotiation' | 'policy' | 'general';
  meaning: string;
  fix: string;
}

export const RESULT_TYPES: Readonly<Record<string, ResultTypeInfo>> = Object.freeze({
  'starttls-not-supported': {
    group: 'negotiation',
    meaning: 'The receiving MX did not offer STARTTLS.',
    fix: 'Enable STARTTLS on that MX (check that the TLS listener is on port 25 and that no middlebox strips the STARTTLS capability).',
  },
  'certificate-host-mismatch': {
    group: 'negotiation',
    meaning: 'The MX presented a certificate that does not cover its host name.',
    fix: "Add the MX host name to the certificate's subject alternative names, or point the MX record at a name the certificate covers.",
  },
  'certificate-expired': {
    group: 'negotiation',
    meaning: 'The MX presented an expired certificate.',
    fix: 'Renew the certificate on that MX and make sure the mail server reloads it (automate renewal).',
  },
  'certificate-not-trusted': {
    group: 'negotiation',
    meaning: 'The certificate chain does not lead to a CA the sender trusts (self-signed, or an intermediate missing).',
    fix: 'Install a certificate from a public CA and serve the full chain, intermediates included.',
  },
  'validation-failure': {
    group: 'negotiation',
    meaning: 'A general failure to validate the TLS session or certificate for a reason not covered by the other types.',
    fix: 'Check the failure-reason-code and additional-information in the report; test the MX with an SMTP TLS checker.',
  },
  'tlsa-invalid': {
    group: 'policy',
    meaning: 'The DANE TLSA record does not match the certificate the MX presented.',
    fix: 'Publish TLSA records for the current key before rolling certificates (publish new + old, roll, then remove old).',
  },
  'dnssec-invalid': {
    group: 'policy',
    meaning: 'DNSSEC validation of the TLSA or MX records failed.',
    fix: 'Fix the DNSSEC chain of the zone (expired signatures, DS record mismatch at the parent).',
  },
  'dane-required': {
    group: 'policy',
    meaning: 'The sender requires DANE but no usable TLSA records were found.',
    fix: 'Publish valid TLSA records for the MX under a DNSSEC-signed zone, or stop requiring DANE.',
  },
  'sts-policy-fetch-error': {
    group: 'policy',
    meaning: 'The MTA-STS policy could not be fetched from https://mta-sts.<domain>/.well-known/mta-sts.txt.',
    fix: 'Make the policy host reachable over HTTPS with a valid certificate for mta-sts.<domain>, answering 200 with text/plain.',
  },
  'sts-policy-invalid': {
    group: 'policy',
    meaning: 'The MTA-STS policy was fetched but could not be parsed or is not valid (RFC 8461 3.2).',
    fix: 'Run "tlsrpt policy validate" on the policy file and correct the lines it reports.',
  },
  'sts-webpki-invalid': {
    group: 'policy',
    meaning: 'The policy host mta-sts.<domain> presented a certificate the sender could not validate.',
    fix: 'Install a publicly trusted certificate valid for mta-sts.<domain> on the policy host.',
  },
});

export function explainResultType(resultType: string): ResultTypeInfo {
  return (
    RESULT_TYPES[resultType] ?? {
      group: 'general',
      meaning: `"${resultType}" is not in the IANA registry this version knows.`,
      fix: 'Read the failure-reason-code and additional-information fields of the report for details.',
    }
  );
}
