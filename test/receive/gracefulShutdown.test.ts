import assert from 'node:assert/strict';
import net from 'node:net';
import { it } from 'node:test';
import { realFixture } from '../helpers/fixtures.js';
import { startHarness } from '../helpers/pipelineHarness.js';
import { smtpSend } from '../helpers/smtpSend.js';

/** A line-oriented SMTP conversation on a raw socket, so a test can pause in the middle of DATA. */
function dialog(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let buffer = '';
  const waiters: Array<() => void> = [];
  socket.on('data', (c: string) => {
    buffer += c;
    waiters.splice(0).forEach((w) => w());
  });
  const reply = async (): Promise<string> => {
    for (;;) {
      const m = /^(\d{3}) [^\r\n]*\r\n/m.exec(buffer);
      if (m) {
        const line = buffer.slice(0, m.index + m[0].length);
        buffer = buffer.slice(m.index + m[0].length);
        return line.trim().split('\r\n').pop()!;
      }
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return {
    reply,
    send: (s: string) => socket.write(s),
    async command(s: string) {
      socket.write(`${s}\r\n`);
      return reply();
    },
    end: () => socket.destroy(),
  };
}

it('finishes a message in progress when told to stop, and refuses new connections', async () => {
  const h = await startHarness();
  let stopped: Promise<void> | undefined;
  try {
    const c = dialog(h.receiver.port);
    assert.match(await c.reply(), /^220 /);
    assert.match(await c.command('EHLO sender.test'), /^250 /);
    assert.match(await c.command('MAIL FROM:<noreply@google.com>'), /^250 /);
    assert.match(await c.command('RCPT TO:<tlsrpt@reports.example.com>'), /^250 /);
    assert.match(await c.command('DATA'), /^354 /);
    const mail = realFixture('mox--example.eml').toString('latin1');
    c.send(mail.slice(0, 1000));

    stopped = h.receiver.stop(); // mid-DATA
    await new Promise((r) => setTimeout(r, 50)); // let close() stop the listener
    const refused = await smtpSend(h.receiver.port, realFixture('mox--example.eml'));
    assert.equal(refused.ok, false, 'a new connection is not accepted while stopping');

    c.send(mail.slice(1000).replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..') + '\r\n.\r\n');
    const done = await c.reply();
    assert.match(done, /^250 .*queued as \d+/);
    c.end();
    await stopped;
    const id = Number(/queued as (\d+)/.exec(done)![1]);
    const msg = await h.settled(id);
    assert.equal(msg.status, 'stored');
  } finally {
    await stopped;
    await h.close();
  }
});
