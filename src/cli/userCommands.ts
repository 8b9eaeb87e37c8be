/**
 * `tlsrpt user add|list|remove|passwd`: the dashboard's users (README "Dashboard"). Passwords are read from
 * standard input (one line; never an argument, which other users of the machine see in `ps`), stored as
 * scrypt hashes (src/users/passwordHash.ts).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { createPool, type Pool } from '../db/pool.js';
import { requireCurrentSchema } from '../db/requireCurrentSchema.js';
import { formatRows, type Column } from '../stats/formatRows.js';
import { addUser, checkUserName, listUsers, removeUser, ROLES, setPassword, type Role } from '../users/userStore.js';
import type { CliContext } from './cliContext.js';
import { addFormatOption, outputFormat, type FormatOptions } from './outputFormat.js';

const LIST_COLUMNS: Column[] = [
  { name: 'name', kind: 'text' },
  { name: 'role', kind: 'text' },
  { name: 'sessions', kind: 'count' },
  { name: 'created_at', kind: 'text' },
  { name: 'updated_at', kind: 'text' },
];

export function registerUserCommands(program: Command, ctx: CliContext): void {
  const user = program.command('user').description('manage the users who may log in to the dashboard (README "Dashboard")');

  user
    .command('add')
    .description('add a dashboard user; the password is read from standard input (at least 12 characters)')
    .argument('<name>', 'user name: letters, digits, ".", "_", "@", "-"', userName)
    .addOption(new Option('--role <role>', 'read: look only; admin: also reprocess quarantined messages').choices(ROLES).default('read'))
    .addHelpText('after', '\nExample:\n  printf "%s\\n" "$PASSWORD" | tlsrpt user add alice --role admin')
    .action(async (name: string, opts: { role: Role }) => {
      const password = await readPassword(ctx);
      await withPool(ctx, (pool) => addUser(pool, name, opts.role, password));
      ctx.out(`user ${name} added (role ${opts.role})\n`);
    });

  addFormatOption(user.command('list').description('list the dashboard users, their role and live sessions')).action(
    async (opts: FormatOptions) => {
      const format = outputFormat(opts);
      const rows = await withPool(ctx, listUsers);
      if (rows.length === 0 && format === 'table') {
        ctx.out('No users: add one with "tlsrpt user add NAME --role admin".\n');
        return;
      }
      ctx.out(
        formatRows(
          LIST_COLUMNS,
          rows.map((r) => ({ ...r })),
          format,
        ),
      );
    },
  );

  user
    .command('remove')
    .description('remove a dashboard user and end their sessions')
    .argument('<name>', 'user name')
    .action(async (name: string) => {
      await withPool(ctx, (pool) => removeUser(pool, name));
      ctx.out(`user ${name} removed\n`);
    });

  user
    .command('passwd')
    .description("set a user's password from standard input; their sessions end")
    .argument('<name>', 'user name')
    .action(async (name: string) => {
      const password = await readPassword(ctx);
      await withPool(ctx, (pool) => setPassword(pool, name, password));
      ctx.out(`password of ${name} changed; their sessions ended\n`);
    });
}

/** A user name argument; a bad one is a usage error (exit status 2). */
function userName(value: string): string {
  try {
    return checkUserName(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** The first line of standard input, without its line ending. */
async function readPassword(ctx: CliContext): Promise<string> {
  const text = (await ctx.readStdin()).toString('utf8');
  return text.split(/\r?\n/, 1)[0] ?? '';
}

async function withPool<T>(ctx: CliContext, fn: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = createPool(ctx.loadConfig().databaseUrl, { max: 1, applicationName: 'tlsrpt-user' });
  try {
    await requireCurrentSchema(pool);
    return await fn(pool);
  } finally {
    await pool.end();
  }
}
