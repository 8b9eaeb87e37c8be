/**
 * A minimal SMTP client on net.Socket for load generation. nodemailer costs more CPU per message than
 * the receiver it drives, and the load generator shares the two cores with the pipeline, so this client
 * does only what an MTA must: EHLO, optional STARTTLS, then MAIL/RCPT/DATA pipelined (RFC 2920) with the
 * body pre-encoded (dot-stuffed, CRLF) before the clock starts.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface Delivery {
  /** performance.now() when the server replied 250 to the end of DATA. */
  ackedAt: number;
  rawMessageId: number;
}

export interface LoadResult {
  deliveries: Delivery[];
  startedAt: number;
  finishedAt: number;
  failures: string[];
}

/** Dot-stuffs and terminates a mail once, so sending is a single write (RFC 5321 4.5.2). */
export function encodeData(mail: Buffer): Buffer {
  const text = mail.toString('latin1').replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
  return Buffer.from(text.endsWith('\r\n') ? `${text}.\r\n` : `${text}\r\n.\r\n`, 'latin1');
}

const ENVELOPE = Buffer.from('MAIL FROM:<noreply-smtp-tls-reporting@bench.example>\r\nRCPT TO:<tlsrpt@reports.example.com>\r\nDATA\r\n');

/** One SMTP session: replies are read in order; each reply is its final line ("250 ..."). */
class Session {
  private buffered = '';
  private replies: string[] = [];
  private waiters: Array<(reply: string) => void> = [];
  private failed: Error | null = null;
  private failWaiters: Array<(err: Error) => void> = [];

  private constructor(private socket: net.Socket | tls.TLSSocket) {
    this.attach(socket);
  }

  static async open(port: number): Promise<Session> {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    const s = new Session(socket);
    await s.expect(220);
    await s.command('EHLO bench.example', 250);
    return s;
  }

  private attach(socket: net.Socket | tls.TLSSocket): void {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl).replace(/\r$/, '');
        this.buffered = this.buffered.slice(nl + 1);
        if (line[3] === '-') continue; // continuation line of a multi-line reply
        const waiter = this.waiters.shift();
        if (waiter) waiter(line);
        else this.replies.push(line);
      }
    });
    const fail = (err: Error) => {
      this.failed ??= err;
      for (const f of this.failWaiters.splice(0)) f(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  private next(): Promise<string> {
    const r = this.replies.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      this.failWaiters.push(reject);
    });
  }

  async expect(code: number): Promise<string> {
    const line = await this.next();
    if (!line.startsWith(String(code))) throw new Error(`expected ${code}, got "${line}"`);
    return line;
  }

  async command(cmd: string, code: number): Promise<string> {
    this.socket.write(`${cmd}\r\n`);
    return this.expect(code);
  }

  async startTls(): Promise<void> {
    await this.command('STARTTLS', 220);
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secure = tls.connect({ socket: plain as net.Socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    await this.command('EHLO bench.example', 250);
  }

  /** Sends one encoded mail; resolves with the id from "250 ... queued as <id>". */
  async send(data: Buffer): Promise<number> {
    this.socket.write(ENVELOPE);
    await this.expect(250);
    await this.expect(250);
    await this.expect(354);
    this.socket.write(data);
    const reply = await this.expect(250);
    const m = /queued as (\d+)/.exec(reply);
    if (!m) throw new Error(`no "queued as <id>" in "${reply}"`);
    return Number(m[1]);
  }

  async quit(): Promise<void> {
    this.socket.write('QUIT\r\n');
    await this.next().catch(() => '');
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface LoadOptions {
  /**
   * The receivers' ports: connection i goes to ports[i % length], as senders spread over several MX
   * records of equal preference (RFC 5321 5.1: the order among them is random).
   */
  ports: number[];
  /** Encoded mails (encodeData), sent in order. */
  mails: Buffer[];
  /** Connections (reused) or connections in flight (new per message). */
  connections: number;
  mode: 'reuse' | 'new' | 'new-starttls';
}

export async function runSmtpLoad(o: LoadOptions): Promise<LoadResult> {
  const deliveries: Delivery[] = [];
  const failures: string[] = [];
  let next = 0;
  const startedAt = performance.now();

  const lane = async (_: unknown, lane: number) => {
    const port = o.ports[lane % o.ports.length]!;
    if (o.mode === 'reuse') {
      const s = await Session.open(port);
      try {
        while (next < o.mails.length) {
          const mail = o.mails[next++]!;
          deliveries.push({ rawMessageId: await s.send(mail), ackedAt: performance.now() });
        }
        await s.quit();
      } catch (err) {
        s.destroy();
        failures.push((err as Error).message);
      }
      return;
    }
    while (next < o.mails.length) {
      const mail = o.mails[next++]!;
      let s: Session | undefined;
      try {
        s = await Session.open(port);
        if (o.mode === 'new-starttls') await s.startTls();
        deliveries.push({ rawMessageId: await s.send(mail), ackedAt: performance.now() });
        await s.quit();
      } catch (err) {
        s?.destroy();
        failures.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.connections, o.mails.length) }, lane));
  return { deliveries, startedAt, finishedAt: performance.now(), failures };
}
