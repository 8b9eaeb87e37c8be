/**
 * A real authoritative DNS server on loopback UDP (dns2) serving a crafted zone, so `tlsrpt check` runs its
 * real node:dns Resolver against it (DNS_SERVERS=127.0.0.1:<port>). Names not in the zone get NXDOMAIN;
 * names without records of the asked type get an empty NOERROR answer (NODATA), as a real server does.
 */
import dns2 from 'dns2';

const { Packet } = dns2;

export interface ZoneNode {
  A?: string[];
  AAAA?: string[];
  MX?: Array<{ exchange: string; priority: number }>;
  /** Each record is one string or its character-strings (for records split into 255-byte pieces). */
  TXT?: Array<string | string[]>;
}

export type Zone = Record<string, ZoneNode>;

/** How the server misbehaves, for the tests of what a slow or lossy resolver does to a lookup. */
export interface DnsServerBehaviour {
  /** Answer each query this long after it came (an overloaded or distant resolver). */
  answerAfterMs?: number;
  /** Ignore the first N queries (lost UDP packets): the client's retry is the first one answered. */
  dropFirst?: number;
}

export interface TestDnsServer {
  /** "127.0.0.1:<port>", for DNS_SERVERS. */
  address: string;
  /** Questions received (answered or not), "name TYPE", for asserting what was looked up. */
  queries: string[];
  close(): Promise<void>;
}

const TYPE_NAMES: Record<number, string> = { 1: 'A', 28: 'AAAA', 15: 'MX', 16: 'TXT' };

export async function startDnsServer(zone: Zone, behaviour: DnsServerBehaviour = {}): Promise<TestDnsServer> {
  const nodes = new Map(Object.entries(zone).map(([name, node]) => [name.toLowerCase().replace(/\.$/, ''), node]));
  const queries: string[] = [];
  const late = new Set<NodeJS.Timeout>();
  let received = 0;
  const server = dns2.createUDPServer((request, answer) => {
    const dropped = ++received <= (behaviour.dropFirst ?? 0);
    const send = (r: dns2.Packet): void => {
      if (dropped) return;
      if (!behaviour.answerAfterMs) return void answer(r);
      const timer = setTimeout(() => {
        late.delete(timer);
        void answer(r);
      }, behaviour.answerAfterMs);
      late.add(timer);
    };
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    const question = request.questions[0];
    if (!question) return void send(response);
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const type = TYPE_NAMES[question.type] ?? String(question.type);
    queries.push(`${name} ${type}`);
    const node = nodes.get(name);
    if (!node) {
      response.header.rcode = 3; // NXDOMAIN
      return void send(response);
    }
    const add = (record: Partial<dns2.Packet.Resource>): void => {
      response.answers.push(Packet.createResourceFromQuestion(question, { ttl: 60, ...record }));
    };
    if (type === 'A') for (const address of node.A ?? []) add({ address });
    if (type === 'AAAA') for (const address of node.AAAA ?? []) add({ address });
    if (type === 'MX') for (const mx of node.MX ?? []) add({ exchange: mx.exchange, priority: mx.priority });
    if (type === 'TXT') for (const data of node.TXT ?? []) add({ data });
    void send(response);
  });
  await server.listen(0, '127.0.0.1');
  const { port } = server.address();
  return {
    address: `127.0.0.1:${port}`,
    queries,
    close: () => {
      // Answers still waiting would be sent on a closed socket.
      for (const timer of late) clearTimeout(timer);
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
