/**
 * batchSmtpReplies: the replies smtp-server writes to one connection in one turn leave in one socket write
 * (counted at the socket's _write/_writev, where each call is a system call), and the STARTTLS reply is
 * not held back from the handshake that follows it.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, it } from 'node:test';
import { SMTPServer } from 'smtp-server';
import { onSmtpConnection } from '../../src/receive/smtpConnections.js';
import { batchSmtpReplies } from '../../src/receive/smtpReplyBatching.js';
import { smtpSend } from '../helpers/smtpSend.js';
import { makeCertificate } from '../helpers/certificates.js';

function startServer(
  batch: boolean,
  tls?: { key: Buffer; cert: Buffer },
): Promise<{ server: SMTPServer; port: number; writes: () => number }> {
  let writes = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    ...(tls ?? {}),
    logger: false,
    onMailFrom: (_a, _s, cb) => cb(),
    onRcptTo: (_a, _s, cb) => cb(),
    onData(stream, _s, cb) {
      stream.resume();
      stream.on('end', () => cb(null, 'queued'));
    },
  });
  if (batch) assert.equal(batchSmtpReplies(server), true);
  onSmtpConnection(server, (_c, socket) => {
    const s = socket as unknown as { _write: (...a: unknown[]) => void; _writev?: (...a: unknown[]) => void };
    const write = s._write;
    const writev = s._writev;
    s._write = function (...a) {
      writes++;
      return write.apply(this, a);
    };
    if (writev)
      s._writev = function (...a) {
        writes++;
        return writev.apply(this, a);
      };
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.server.address() as net.AddressInfo).port, writes: () => writes })),
  );
}

/** The socket writes the server made for a pipelined MAIL, RCPT and DATA. */
async function envelopeWrites(port: number, writes: () => number): Promise<number> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('latin1');
  let text = '';
  const until = (re: RegExp) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (re.test(text)) {
          socket.off('data', onData);
          resolve();
        }
      };
      const onData = (c: string) => {
        text += c;
        check();
      };
      socket.on('data', onData);
      check();
    });
  try {
    await until(/^220 /m);
    socket.write('EHLO client.test\r\n');
    await until(/^250 /m);
    text = '';
    const before = writes();
    socket.write('MAIL FROM:<a@sender.example>\r\nRCPT TO:<b@receiver.example>\r\nDATA\r\n');
    await until(/^354 /m);
    assert.match(text, /^250 [^\r\n]*\r\n250 [^\r\n]*\r\n354 /);
    return writes() - before;
  } finally {
    socket.destroy();
  }
}

let plain: Awaited<ReturnType<typeof startServer>>;
let unbatched: Awaited<ReturnType<typeof startServer>>;
before(async () => {
  plain = await startServer(true);
  unbatched = await startServer(false);
});
after(async () => {
  await new Promise<void>((r) => plain.server.close(() => r()));
  await new Promise<void>((r) => unbatched.server.close(() => r()));
});

it('writes the replies to a pipelined MAIL, RCPT and DATA at once', async () => {
  assert.equal(await envelopeWrites(plain.port, plain.writes), 1);
  // The same conversation without batching, so that the count above means something.
  assert.equal(await envelopeWrites(unbatched.port, unbatched.writes), 3);
});

it('still completes STARTTLS and delivers over it', async () => {
  const { key, cert } = makeCertificate('localhost');
  const tls = await startServer(true, { key, cert });
  try {
    const r = await smtpSend(tls.port, 'Subject: x\r\n\r\nbody\r\n', {}, { starttls: true });
    assert.equal(r.ok, true, r.response);
    assert.match(r.response, /^250 /);
  } finally {
    await new Promise<void>((r) => tls.server.close(() => r()));
  }
});
