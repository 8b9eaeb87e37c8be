/**
 * A real IMAP server for the tests: Dovecot from Debian (`dovecot-imapd`), started as a throwaway instance
 * from a temporary directory (its own base_dir, state, log, passwd-file and maildirs), listening on free
 * loopback ports for imap (STARTTLS offered) and imaps, with a certificate from the test CA. stop() ends it
 * and removes the directory: nothing is left behind.
 *
 * Run as root (CI containers), the mail processes use the `dovecot` system user, since Dovecot refuses mail
 * access as UID 0; run as anyone else, every process runs as that user.
 *
 * XOAUTH2: with `oauth2IntrospectionUrl`, the passdb for SASL XOAUTH2/OAUTHBEARER asks that URL (a tiny HTTP
 * server the test runs) whether a token is active and whose it is (Dovecot's `driver = oauth2`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import { createTestCa, type TestCa } from './testCa.js';
import { portAnswers } from './services.js';
import { waitFor } from './waitFor.js';

export interface DovecotOptions {
  /** When set, XOAUTH2 and OAUTHBEARER logins are checked against this RFC 7662 introspection URL. */
  oauth2IntrospectionUrl?: string;
  /** false: the server does not announce IDLE (clients must poll). */
  idle?: boolean;
}

export interface Dovecot {
  host: string;
  /** Plain IMAP (STARTTLS offered). */
  port: number;
  /** IMAP over TLS from the first byte. */
  tlsPort: number;
  /** The CA that signed the server's certificate (for "imaps://" with verification). */
  ca: TestCa;
  addUser(user: string, password: string): void;
  /** An imapflow client logged in as `user` (the caller logs out). */
  connect(user: string, password: string): Promise<ImapFlow>;
  /**
   * Puts messages straight into the user's maildir (`new/`), as a local delivery agent would: thousands in
   * a second where APPEND takes a round trip each. `folder` is INBOX or a top-level folder.
   */
  deliver(user: string, folder: string, messages: Buffer[]): void;
  /** APPENDs messages to `folder` (created when missing); returns their UIDs. */
  append(user: string, password: string, folder: string, messages: Buffer[]): Promise<number[]>;
  /** Stops the server and starts it again on the same ports with the same mail. */
  restart(): Promise<void>;
  /** Stops the server (connections are cut) without removing anything; start() brings it back. */
  halt(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes every file it had. */
  stop(): Promise<void>;
  /** The server's log so far (for failure messages). */
  log(): string;
}

const DOVECOT = ['/usr/sbin/dovecot', '/usr/local/sbin/dovecot'].find((p) => existsSync(p));

/** Fails with the command that installs Dovecot when it is missing (.ci/run installs it). */
export function requireDovecot(): string {
  if (!DOVECOT) {
    throw new Error(
      'The IMAP tests need a real Dovecot and none is installed. Install it with:\n' +
        '  apt-get update && apt-get install -y dovecot-imapd\n(.ci/run does this automatically.)',
    );
  }
  return DOVECOT;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startDovecot(options: DovecotOptions = {}): Promise<Dovecot> {
  const binary = requireDovecot();
  const dir = mkdtempSync(join(tmpdir(), 'tlsrpt-dovecot-'));
  const ca = createTestCa();
  let child: ChildProcess | null = null;
  // Whatever happens to the test file, its server does not outlive it, and its directory goes too.
  const onExit = () => {
    // The process is ending and cannot wait: SIGKILL, so the server writes nothing more into the directory.
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    ca.cleanup();
  };
  process.once('exit', onExit);
  const [port, tlsPort] = [await freePort(), await freePort()];
  const me = userInfo();
  const asRoot = me.uid === 0;
  const mailUid = asRoot ? Number(execFileSync('id', ['-u', 'dovecot']).toString().trim()) : me.uid;
  const mailGid = asRoot ? Number(execFileSync('id', ['-g', 'dovecot']).toString().trim()) : me.gid;
  // Dovecot's unprivileged processes must reach the directories below this one.
  chmodSync(dir, 0o755);
  const home = join(dir, 'home');
  mkdirSync(home);
  if (asRoot) chownSync(home, mailUid, mailGid);
  // testCa writes each name as "DNS:<name>"; the last one smuggles in the IP address clients connect to.
  const pair = ca.issue(['localhost', 'imap.tlsrpt.test,IP:127.0.0.1']);
  writeFileSync(join(dir, 'cert.pem'), pair.cert);
  writeFileSync(join(dir, 'key.pem'), pair.key, { mode: 0o600 });
  // One passwd-file per user: Dovecot notices a changed passwd-file by its mtime in whole seconds, so a
  // user added to a shared file within the second of the last change could not log in yet.
  mkdirSync(join(dir, 'users'));
  const oauth2 = options.oauth2IntrospectionUrl;
  if (oauth2) {
    writeFileSync(
      join(dir, 'oauth2.conf.ext'),
      [
        `introspection_url = ${oauth2}`,
        'introspection_mode = post',
        'username_attribute = username',
        'active_attribute = active',
        'active_value = true',
        '',
      ].join('\n'),
    );
  }
  const conf = [
    `base_dir = ${join(dir, 'run')}`,
    `state_dir = ${join(dir, 'state')}`,
    `log_path = ${join(dir, 'dovecot.log')}`,
    `info_log_path = ${join(dir, 'dovecot.log')}`,
    `instance_name = tlsrpt-test-${port}`,
    'protocols = imap',
    'listen = 127.0.0.1',
    `default_internal_user = ${asRoot ? 'dovecot' : me.username}`,
    `default_login_user = ${asRoot ? 'dovenull' : me.username}`,
    ...(asRoot ? [] : [`default_internal_group = ${execFileSync('id', ['-gn']).toString().trim()}`]),
    'ssl = yes',
    `ssl_cert = <${join(dir, 'cert.pem')}`,
    `ssl_key = <${join(dir, 'key.pem')}`,
    'disable_plaintext_auth = no',
    `auth_mechanisms = plain login${oauth2 ? ' xoauth2 oauthbearer' : ''}`,
    'auth_failure_delay = 0',
    `first_valid_uid = ${Math.min(mailUid, 500)}`,
    'mail_location = maildir:~/Maildir',
    'mail_fsync = never',
    'namespace inbox {',
    '  inbox = yes',
    '  separator = /',
    '}',
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN username_format=%u ${join(dir, 'users')}/%u`,
    ...(oauth2 ? ['  mechanisms = plain login'] : []),
    '}',
    ...(oauth2
      ? ['passdb {', '  driver = oauth2', '  mechanisms = xoauth2 oauthbearer', `  args = ${join(dir, 'oauth2.conf.ext')}`, '}']
      : []),
    'userdb {',
    '  driver = static',
    `  args = uid=${mailUid} gid=${mailGid} home=${home}/%u`,
    '}',
    'service imap-login {',
    '  chroot =',
    `  inet_listener imap {\n    address = 127.0.0.1\n    port = ${port}\n  }`,
    `  inet_listener imaps {\n    address = 127.0.0.1\n    port = ${tlsPort}\n    ssl = yes\n  }`,
    '}',
    'service anvil {\n  chroot =\n}',
    'service stats {\n  unix_listener stats-writer {\n    mode = 0666\n  }\n}',
    'protocol imap {\n  mail_max_userip_connections = 100\n}',
    ...(options.idle === false
      ? ['imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT UIDPLUS MOVE LITERAL+ NAMESPACE CHILDREN UNSELECT']
      : []),
    '',
  ].join('\n');
  const confPath = join(dir, 'dovecot.conf');
  writeFileSync(confPath, conf);

  let exited: Promise<void> = Promise.resolve();
  const logText = () => (existsSync(join(dir, 'dovecot.log')) ? readFileSync(join(dir, 'dovecot.log'), 'utf8') : '');

  const start = async (): Promise<void> => {
    let stderr = '';
    const proc = spawn(binary, ['-F', '-c', confPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // A test file that fails before its after() hook must still end: the server does not hold the process
    // open, and the exit hook below stops it.
    proc.unref();
    (proc.stderr as net.Socket).unref();
    child = proc;
    let gone = false;
    exited = new Promise((resolve) =>
      proc.once('exit', () => {
        gone = true;
        resolve();
      }),
    );
    try {
      await waitFor('Dovecot to listen', async () => {
        if (gone) throw new Error(`Dovecot exited at start: ${stderr.trim()} ${logText().slice(-2000)}`);
        return (await portAnswers(port)) && (await portAnswers(tlsPort));
      });
    } catch (err) {
      proc.kill('SIGKILL');
      throw new Error(`Dovecot could not start (${binary}): ${(err as Error).message}`, { cause: err });
    }
  };
  const halt = async (): Promise<void> => {
    if (!child) return;
    // Held again while it stops (it is unreferenced while it runs), so the wait keeps the process alive.
    child.ref();
    child.kill('SIGTERM');
    await exited;
    child = null;
  };

  const connect = async (user: string, password: string): Promise<ImapFlow> => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port,
      secure: false,
      auth: { user, pass: password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await client.connect();
    return client;
  };

  try {
    await start();
  } catch (err) {
    process.removeListener('exit', onExit);
    rmSync(dir, { recursive: true, force: true });
    ca.cleanup();
    throw err;
  }
  return {
    host: '127.0.0.1',
    port,
    tlsPort,
    ca,
    addUser(user, password) {
      writeFileSync(join(dir, 'users', safeUserName(user)), `${user}:{PLAIN}${password}::::::\n`);
    },
    connect,
    deliver(user, folder, messages) {
      const maildir = join(home, user, 'Maildir', folder.toUpperCase() === 'INBOX' ? '' : `.${folder}`);
      for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(maildir, sub), { recursive: true });
      const stamp = Date.now();
      messages.forEach((m, i) => writeFileSync(join(maildir, 'new', `${stamp}.M${i}P${process.pid}.tlsrpt-test`), m));
      if (asRoot) execFileSync('chown', ['-R', `${mailUid}:${mailGid}`, join(home, user)]);
    },
    async append(user, password, folder, messages) {
      const client = await connect(user, password);
      try {
        if (folder.toUpperCase() !== 'INBOX') await client.mailboxCreate(folder);
        const uids: number[] = [];
        for (const m of messages) {
          const res = await client.append(folder, m);
          if (res && typeof res === 'object' && res.uid) uids.push(res.uid);
        }
        return uids;
      } finally {
        await client.logout();
      }
    },
    async restart() {
      await halt();
      await start();
    },
    halt,
    start,
    async stop() {
      await halt();
      process.removeListener('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
      ca.cleanup();
    },
    log: logText,
  };
}

/** A test user's name is a file name and a passwd-file line: keep it to letters, digits, "." and "-". */
function safeUserName(user: string): string {
  if (!/^[A-Za-z0-9.-]+$/.test(user)) throw new Error(`test user name ${JSON.stringify(user)}: use letters, digits, "." and "-"`);
  return user;
}
