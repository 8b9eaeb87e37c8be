/**
 * Policy hosting: the fastify plugin answers GET /.well-known/mta-sts.txt for configured domains only, chosen
 * by Host header, from a policy directory and from one shared policy file; invalid policies stop start-up.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/loadConfig.js';
import { ConfigError } from '../../src/errors.js';
import { loadHostedPolicies } from '../../src/policy/host/loadHostedPolicies.js';
import { policyHostPlugin } from '../../src/policy/host/policyHostPlugin.js';

const EXAMPLE_COM = 'version: STSv1\nmode: enforce\nmx: mx1.example.com\nmax_age: 1209600\n';
const EXAMPLE_NET = 'version: STSv1\r\nmode: testing\r\nmx: *.example.net\r\nmax_age: 604800\r\n';
const SHARED = 'version: STSv1\nmode: testing\nmx: mx.shared-host.example\nmax_age: 604800\n';

describe('policy hosting', () => {
  const root = mkdtempSync(join(tmpdir(), 'tlsrpt-policies-'));
  const dir = join(root, 'policies');
  let app: FastifyInstance;

  before(async () => {
    mkdirSync(dir);
    writeFileSync(join(dir, 'example.com.txt'), EXAMPLE_COM);
    writeFileSync(join(dir, 'Example.NET.txt'), EXAMPLE_NET);
    writeFileSync(join(dir, 'README.md'), 'not a policy'); // other files are ignored
    writeFileSync(join(root, 'shared.txt'), SHARED);
    const config = loadConfig({
      MTA_STS_POLICY_DIR: dir,
      MTA_STS_POLICY_FILE: join(root, 'shared.txt'),
      MTA_STS_DOMAINS: 'a.example, b.example',
    });
    app = Fastify();
    await app.register(policyHostPlugin, { policies: loadHostedPolicies(config.mtaSts) });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const get = (host: string, url = '/.well-known/mta-sts.txt') => app.inject({ method: 'GET', url, headers: { host } });

  it('serves each domain its own file, byte for byte, as text/plain', async () => {
    const com = await get('mta-sts.example.com');
    assert.equal(com.statusCode, 200);
    assert.equal(com.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(com.body, EXAMPLE_COM);
    const net = await get('MTA-STS.example.net:443'); // case and port do not matter
    assert.equal(net.statusCode, 200);
    assert.equal(net.body, EXAMPLE_NET);
  });

  it('serves the shared policy for every domain listed with it', async () => {
    for (const host of ['mta-sts.a.example', 'mta-sts.b.example.']) {
      const res = await get(host);
      assert.equal(res.statusCode, 200, host);
      assert.equal(res.body, SHARED);
    }
  });

  it('refuses hosts it has no policy for, including the bare domain', async () => {
    for (const host of ['mta-sts.example.org', 'example.com', 'www.example.com', 'mta-sts.c.example', '127.0.0.1']) {
      const res = await get(host);
      assert.equal(res.statusCode, 404, host);
      assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    }
    assert.equal((await get('mta-sts.example.com', '/mta-sts.txt')).statusCode, 404);
  });

  it('answers HEAD without a body', async () => {
    const res = await app.inject({ method: 'HEAD', url: '/.well-known/mta-sts.txt', headers: { host: 'mta-sts.example.com' } });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, '');
  });

  it('answers over a real socket (port 0) by the Host header', async () => {
    const server = Fastify();
    await server.register(policyHostPlugin, { policies: loadHostedPolicies(loadConfig({ MTA_STS_POLICY_DIR: dir }).mtaSts) });
    await server.listen({ host: '127.0.0.1', port: 0 });
    try {
      const { port } = server.server.address() as { port: number };
      const fetchHost = (host: string) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = request({ host: '127.0.0.1', port, path: '/.well-known/mta-sts.txt', headers: { host } }, (res) => {
            let body = '';
            res
              .setEncoding('utf8')
              .on('data', (c: string) => (body += c))
              .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          });
          req.on('error', reject).end();
        });
      assert.deepEqual(await fetchHost('mta-sts.example.com'), { status: 200, body: EXAMPLE_COM });
      assert.equal((await fetchHost('mta-sts.a.example')).status, 404); // shared file not configured on this one
    } finally {
      await server.close();
    }
  });

  it('refuses to start with an invalid policy, naming file, line and fix', () => {
    const badDir = join(root, 'bad');
    mkdirSync(badDir);
    writeFileSync(join(badDir, 'example.org.txt'), 'version: STSv1\nmode: enforce\nmx: mail.*.example.org\nmax_age: 99999999999\n');
    assert.throws(
      () => loadHostedPolicies(loadConfig({ MTA_STS_POLICY_DIR: badDir }).mtaSts),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.variable, 'MTA_STS_POLICY_DIR');
        assert.match(err.message, /example\.org\.txt:3: mx-wildcard/);
        assert.match(err.message, /example\.org\.txt:4: max-age-invalid/);
        return true;
      },
    );
    writeFileSync(join(badDir, 'example.org.txt'), EXAMPLE_COM);
    writeFileSync(join(badDir, 'nodot.txt'), EXAMPLE_COM);
    assert.throws(() => loadHostedPolicies(loadConfig({ MTA_STS_POLICY_DIR: badDir }).mtaSts), /"nodot\.txt" is not named <domain>\.txt/);
  });

  it('refuses a domain configured twice', () => {
    const config = loadConfig({ MTA_STS_POLICY_DIR: dir, MTA_STS_POLICY_FILE: join(root, 'shared.txt'), MTA_STS_DOMAINS: 'example.com' });
    assert.throws(
      () => loadHostedPolicies(config.mtaSts),
      (err: unknown) => err instanceof ConfigError && err.variable === 'MTA_STS_DOMAINS',
    );
  });
});
