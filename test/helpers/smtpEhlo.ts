import net from 'node:net';

/** Connects, reads the greeting, sends EHLO and returns the capability lines (e.g. ["SIZE 10485760", "STARTTLS"]). */
export function smtpEhlo(port: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer = '';
    let greeted = false;
    socket.setEncoding('utf8');
    socket.on('error', reject);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (!greeted && /^220 .*\r\n/m.test(buffer)) {
        greeted = true;
        buffer = '';
        socket.write('EHLO client.test\r\n');
        return;
      }
      if (greeted && /^250 .*\r\n/m.test(buffer)) {
        socket.end('QUIT\r\n');
        resolve(
          buffer
            .split('\r\n')
            .filter(Boolean)
            .slice(1)
            .map((l) => l.slice(4)),
        );
      }
    });
  });
}
