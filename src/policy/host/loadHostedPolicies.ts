/**
 * Reads the policies this deployment hosts (README "MTA-STS": MTA_STS_POLICY_DIR with one <domain>.txt per
 * domain, and/or MTA_STS_POLICY_FILE shared by MTA_STS_DOMAINS) and validates each one. An invalid policy
 * stops start-up with the file and line: serving it would make senders silently ignore MTA-STS.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MtaStsConfig } from '../../config/loadConfig.js';
import { summariseList } from '../../config/summariseList.js';
import { ConfigError } from '../../errors.js';
import { hostNameProblem } from '../syntax/hostName.js';
import { parseStsPolicy, type StsPolicy } from '../syntax/parseStsPolicy.js';
import type { Problem } from '../syntax/problem.js';

export interface HostedPolicy {
  domain: string;
  /** The bytes served, exactly as in the file. */
  text: string;
  /** The file it came from. */
  source: string;
  policy: StsPolicy;
  warnings: Problem[];
}

/** Hosted policies by domain (lower case, e.g. "example.com" for host mta-sts.example.com). */
export type HostedPolicies = ReadonlyMap<string, HostedPolicy>;

export function loadHostedPolicies(config: MtaStsConfig): HostedPolicies {
  const policies = new Map<string, HostedPolicy>();
  if (config.policyDir) {
    const dir = config.policyDir;
    let files: string[];
    try {
      files = readdirSync(dir)
        .filter((f) => f.endsWith('.txt') && !f.startsWith('.'))
        .sort();
    } catch (err) {
      throw new ConfigError('MTA_STS_POLICY_DIR', `cannot list "${dir}": ${(err as Error).message}`);
    }
    for (const file of files) {
      const domain = file.slice(0, -'.txt'.length).toLowerCase();
      const problem = hostNameProblem(domain);
      if (problem || !domain.includes('.')) {
        throw new ConfigError(
          'MTA_STS_POLICY_DIR',
          `"${file}" is not named <domain>.txt (${problem ?? 'no dot in the domain'}); rename it, e.g. example.com.txt`,
        );
      }
      policies.set(domain, readPolicy('MTA_STS_POLICY_DIR', join(dir, file), domain));
    }
  }
  if (config.policyFile && config.sharedDomains.length) {
    // Read and checked once, whatever the number of domains sharing it (10,000 is a supported case).
    const shared = readPolicy('MTA_STS_POLICY_FILE', config.policyFile, summariseList(config.sharedDomains));
    for (const domain of config.sharedDomains) {
      const existing = policies.get(domain);
      if (existing) {
        throw new ConfigError(
          'MTA_STS_DOMAINS',
          `${domain} has a policy in ${existing.source} and is also listed for MTA_STS_POLICY_FILE; keep one`,
        );
      }
      policies.set(domain, { ...shared, domain });
    }
  }
  return policies;
}

export interface HostedPolicyChanges {
  added: string[];
  removed: string[];
  /** Domains still hosted whose served text changed. */
  changed: string[];
}

/** What a reload changes in the set of hosted policies, by domain. */
export function compareHostedPolicies(before: HostedPolicies, after: HostedPolicies): HostedPolicyChanges {
  const added: string[] = [];
  const changed: string[] = [];
  for (const [domain, p] of after) {
    const old = before.get(domain);
    if (!old) added.push(domain);
    else if (old.text !== p.text) changed.push(domain);
  }
  const removed = [...before.keys()].filter((d) => !after.has(d));
  return { added, removed, changed };
}

/** `domain`: the domain (or the summarised list of domains) the policy is for, as messages name it. */
function readPolicy(variable: string, path: string, domain: string): HostedPolicy {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ConfigError(variable, `cannot read "${path}": ${(err as Error).message}`);
  }
  const { policy, problems } = parseStsPolicy(bytes);
  if (!policy) {
    const errors = problems.filter((p) => p.severity === 'error');
    throw new ConfigError(
      variable,
      `the policy for ${domain} is invalid; senders would ignore it:\n` +
        errors.map((p) => `  ${path}${p.line ? `:${p.line}` : ''}: ${p.code}: ${p.message}. ${p.fix}`).join('\n') +
        `\n(run "tlsrpt policy validate ${path}" after fixing)`,
    );
  }
  return { domain, text: bytes.toString('utf8'), source: path, policy, warnings: problems };
}
