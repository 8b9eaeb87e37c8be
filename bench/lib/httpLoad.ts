/**
 * RFC 8460 5.4 load: reports POSTed as application/tlsrpt+gzip over HTTPS, on `connections` kept-alive
 * connections (node:https with a keep-alive agent, as a sender's HTTP client would reuse its connection).
 * Bodies are gzipped before the clock starts.
 */
import https from 'node:https';
import type { Delivery, LoadResult } from './smtpLoad.js';

export interface HttpLoadOptions {
  /** The HTTPS endpoints' ports: connection i posts to ports[i % length] (a load balancer's round robin). */
  ports: number[];
  bodies: Buffer[];
  connections: number;
  path?: string;
}

export async function runHttpLoad(o: HttpLoadOptions): Promise<LoadResult> {
  // One agent per lane, so that each lane keeps its one connection to its own endpoint.
  const agents: https.Agent[] = [];
  const deliveries: Delivery[] = [];
  const failures: string[] = [];
  let next = 0;
  const startedAt = performance.now();
  const post = (agent: https.Agent, port: number, body: Buffer) =>
    new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path: o.path ?? '/tlsrpt',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/tlsrpt+gzip', 'content-length': body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            resolve((JSON.parse(text) as { id: number }).id);
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const lane = async (_: unknown, lane: number) => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    agents.push(agent);
    const port = o.ports[lane % o.ports.length]!;
    while (next < o.bodies.length) {
      const body = o.bodies[next++]!;
      try {
        deliveries.push({ rawMessageId: await post(agent, port, body), ackedAt: performance.now() });
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(o.connections, o.bodies.length) }, lane));
  } finally {
    for (const agent of agents) agent.destroy();
  }
  return { deliveries, startedAt, finishedAt: performance.now(), failures };
}
