/**
 * The MX hosts of well-known mail providers, by host-name suffix. When the MX that failed belongs to the
 * provider the domain hosts its mail with, renewing "the certificate on that MX" is not the reader's job:
 * the alert says whose MX it is, that there is nothing to fix on their side for it, and to contact the
 * provider if it persists (issue 15 part 3). Suffixes match on a label boundary: `aspmx.l.google.com`
 * is Google's, `notgoogle.com` is not.
 */

/** suffix -> provider, as the advice names it. Most specific suffixes need no special order: labels decide. */
const PROVIDER_SUFFIXES: Readonly<Record<string, string>> = {
  'google.com': 'Google',
  'googlemail.com': 'Google',
  'protection.outlook.com': 'Microsoft',
  'outlook.com': 'Microsoft',
  'hotmail.com': 'Microsoft',
  'yahoodns.net': 'Yahoo',
  'icloud.com': 'Apple iCloud',
  'zoho.com': 'Zoho',
  'zoho.eu': 'Zoho',
  'messagingengine.com': 'Fastmail',
  'protonmail.ch': 'Proton',
  'mimecast.com': 'Mimecast',
  'pphosted.com': 'Proofpoint',
  'ppe-hosted.com': 'Proofpoint',
  'iphmx.com': 'Cisco Secure Email',
  'barracudanetworks.com': 'Barracuda',
  'yandex.net': 'Yandex',
  'mail.ru': 'Mail.ru',
  'gmx.net': 'GMX',
  'kundenserver.de': 'IONOS',
  'ovh.net': 'OVHcloud',
  'amazonaws.com': 'Amazon SES',
};

/** "ASPMX.L.Google.com." -> "Google"; a host of no listed provider -> null. */
export function mailProviderOf(hostName: string): string | null {
  const labels = hostName.trim().toLowerCase().replace(/\.$/, '').split('.');
  // Longest suffix first, so "protection.outlook.com" wins over "outlook.com" (same provider today, but
  // the rule should not depend on that).
  for (let i = 0; i < labels.length - 1; i++) {
    const provider = PROVIDER_SUFFIXES[labels.slice(i).join('.')];
    if (provider) return provider;
  }
  return null;
}

/**
 * The provider of every one of `hostNames`, when they all belong to one; null when none is listed, they
 * belong to different providers, or some are the domain's own.
 */
export function commonMailProvider(hostNames: readonly string[]): string | null {
  if (hostNames.length === 0) return null;
  const providers = new Set(hostNames.map(mailProviderOf));
  if (providers.size !== 1) return null;
  return [...providers][0] ?? null;
}
