/**
 * Test keys and real DKIM signatures (mailauth's dkimSign) for the authentication tests: a key pair made in
 * the test, its public half as the TXT record a loopback DNS server (test/helpers/dnsServer.ts) publishes,
 * and report mails signed with it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { buildReportMail } from '../helpers/reportMail.js';

export interface TestKey {
  privateKey: string;
  /** The key record's text: "v=DKIM1; k=rsa; [s=...;] p=<base64 SPKI>". */
  record: string;
}

export function makeTestKey(serviceTypes?: string): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    record: `v=DKIM1; k=rsa;${serviceTypes ? ` s=${serviceTypes};` : ''} p=${spki}`,
  };
}

/** A TXT record longer than 255 bytes as its character-strings, as DNS carries it (RFC 6376 3.6.2.2). */
export function txtStrings(record: string): string[] {
  return record.match(/.{1,255}/g) ?? [];
}

/** The report for `policyDomain` from `organization`, with a fresh report-id unless given. */
export function testReport(
  organization: string,
  policyDomain: string | null,
  o: { reportId?: string; day?: string; successful?: number; failed?: number; policyType?: string } = {},
): Record<string, unknown> {
  const day = o.day ?? new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const policy: Record<string, unknown> = {
    'policy-type': o.policyType ?? 'sts',
    'policy-string': ['version: STSv1', 'mode: testing', 'mx: mx.example.com', 'max_age: 86400'],
  };
  if (policyDomain !== null) policy['policy-domain'] = policyDomain;
  if (o.policyType === 'no-policy-found') delete policy['policy-string'];
  return {
    'organization-name': organization,
    'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
    'contact-info': 'smtp-tls-reporting@example.org',
    'report-id': o.reportId ?? `${Math.random().toString(36).slice(2)}@${organization.replace(/\W/g, '')}`,
    policies: [
      { policy, summary: { 'total-successful-session-count': o.successful ?? 100, 'total-failure-session-count': o.failed ?? 0 } },
    ],
  };
}

/** A report mail From tls-reporting@<fromDomain> (RFC 8460 5.3), signed by `signer` when given. */
export async function reportMail(
  report: Record<string, unknown>,
  o: { fromDomain: string; policyDomain: string; signer?: { domain: string; selector: string; key: TestKey } },
): Promise<Buffer> {
  const mail = buildReportMail({ report, submitter: o.fromDomain, policyDomain: o.policyDomain });
  if (!o.signer) return mail;
  const signature = { signingDomain: o.signer.domain, selector: o.signer.selector, privateKey: o.signer.key.privateKey };
  // mailauth signs with each entry of signatureData (its top-level signingDomain/selector are only defaults).
  // signTime is given because without it mailauth reads the clock twice, once for the t= tag it signs and once
  // for the t= it writes, with the RSA signing in between: when the second it rounds to changes between the two (about
  // 1 in 700 mails on a quiet machine, 1 in 60 under load) the signature does not verify ("bad signature").
  const signed = await dkimSign(mail, { ...signature, signatureData: [signature], signTime: new Date() });
  if (signed.errors.length) throw signed.errors[0];
  return Buffer.concat([Buffer.from(signed.signatures), mail]);
}
