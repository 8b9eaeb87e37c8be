/**
 * Serves MTA-STS policies: GET https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 3.2), chosen by
 * the Host header, as text/plain. Unknown hosts get 404, so the server never hands one domain's policy to
 * another. A route family of the HTTP server (src/services/httpService.ts registers it when policies are
 * hosted); on any other fastify app that terminates TLS for the mta-sts.* names:
 *   app.register(policyHostPlugin, { policies: loadHostedPolicies(config.mtaSts) })
 * The policy files are read and checked in ./loadHostedPolicies.ts.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { HostedPolicies } from './loadHostedPolicies.js';

export interface PolicyHostOptions {
  policies: HostedPolicies;
}

export const POLICY_PATH = '/.well-known/mta-sts.txt';

export const policyHostPlugin: FastifyPluginAsync<PolicyHostOptions> = async (app, options) => {
  const policies = options.policies;
  app.get(POLICY_PATH, async (request, reply) => {
    // request.hostname is the Host header without the port (or X-Forwarded-Host when trustProxy is set).
    const host = request.hostname.toLowerCase().replace(/\.$/, '');
    const hosted = host.startsWith('mta-sts.') ? policies.get(host.slice('mta-sts.'.length)) : undefined;
    if (!hosted) {
      return reply
        .code(404)
        .type('text/plain; charset=utf-8')
        .send(`no MTA-STS policy is hosted for ${JSON.stringify(host)}\n`);
    }
    return reply.code(200).type('text/plain; charset=utf-8').send(hosted.text);
  });
};
