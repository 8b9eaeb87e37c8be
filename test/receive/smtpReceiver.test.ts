/**
 * The size limit announced in EHLO is enforced on MAIL FROM SIZE= by smtp-server itself (from the `size`
 * option), so the receiver has no check of its own for it; this holds that library behaviour in place.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, it } from 'node:test';
import { startHarness, type Harness } from '../helpers/pipelineHarness.js';

/** Sends the lines one at a time after the greeting and returns each reply's first line. */
function converse(port: number, lines: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const replies: string[] = [];
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      // A reply ends with a line "NNN text" (no dash after the code).
      let m: RegExpExecArray | null;
      while ((m = /^(\d{3}) [^\r\n]*\r\n/m.exec(buffer))) {
        replies.push(m[0].trimEnd());
        buffer = buffer.slice(m.index + m[0].length);
        const next = lines[replies.length - 1];
        if (next === undefined) {
          socket.end();
          return resolve(replies.slice(1));
        }
        socket.write(`${next}\r\n`);
      }
    });
  });
}

let h: Harness;
before(async () => {
  h = await startHarness({ MAX_MESSAGE_SIZE: '64KiB' }, { worker: false });
});
after(() => h?.close());

it('answers 552 to MAIL FROM with a SIZE over MAX_MESSAGE_SIZE, and accepts one within it', async () => {
  const [ehlo, over] = await converse(h.receiver.port, ['EHLO client.test', `MAIL FROM:<a@sender.example> SIZE=${64 * 1024 + 1}`, 'QUIT']);
  assert.match(ehlo!, /^250 /);
  assert.match(over!, /^552 /);
  const [, within] = await converse(h.receiver.port, ['EHLO client.test', `MAIL FROM:<a@sender.example> SIZE=${64 * 1024}`, 'QUIT']);
  assert.match(within!, /^250 /);
});

/** Reads from `socket` until `done(received)` holds; returns what came in each read. */
function readUntil(socket: net.Socket, done: (text: string) => boolean): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const reads: string[] = [];
    const onData = (chunk: string) => {
      reads.push(chunk);
      if (done(reads.join(''))) {
        socket.off('data', onData);
        resolve(reads);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

it('answers pipelined MAIL, RCPT and DATA (RFC 2920) in order, and stores the mail', async () => {
  const socket = net.connect(h.receiver.port, '127.0.0.1');
  socket.setEncoding('latin1');
  try {
    await readUntil(socket, (t) => /^220 /m.test(t));
    socket.write('EHLO client.test\r\n');
    await readUntil(socket, (t) => /^250 /m.test(t));
    socket.write('MAIL FROM:<a@sender.example>\r\nRCPT TO:<tlsrpt@reports.example.com>\r\nDATA\r\n');
    const reads = await readUntil(socket, (t) => /^354 /m.test(t));
    // In order, whether they came in one write or several (test/receive/smtpReplyBatching.test.ts counts them).
    assert.match(reads.join(''), /^250 [^\r\n]*\r\n250 [^\r\n]*\r\n354 /);
    socket.write('Subject: pipelined\r\n\r\nnot a report\r\n.\r\n');
    const [queued] = await readUntil(socket, (t) => /^250 /m.test(t));
    assert.match(queued!, /^250 .*queued as \d+/);
    socket.write('QUIT\r\n');
    await readUntil(socket, (t) => /^221 /m.test(t));
  } finally {
    socket.destroy();
  }
});
