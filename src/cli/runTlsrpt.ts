/**
 * Runs one `tlsrpt` command line and returns its exit status (src/cli/exitCodeFor.ts). The bin entry
 * (main.ts) calls it with the process's environment and streams; tests call it in-process with their own.
 */
import { CommanderError, type Command } from 'commander';
import { ConfigError, errorMessage, isServiceOutage, UsageError } from '../errors.js';
import { CliContext, type CliIo } from './cliContext.js';
import { createTlsrptProgram } from './createTlsrptProgram.js';
import { exitCodeFor } from './exitCodeFor.js';

export interface TlsrptRun {
  code: number;
  /** True when a long-running service started: the process must stay up until a signal stops it. */
  keepsRunning: boolean;
}

export async function runTlsrpt(argv: readonly string[], io: CliIo): Promise<number> {
  return (await startTlsrpt(argv, io)).code;
}

/** As runTlsrpt, also saying whether a service is left running (for the bin entry). */
export async function startTlsrpt(argv: readonly string[], io: CliIo): Promise<TlsrptRun> {
  const ctx = new CliContext(io);
  const program = createTlsrptProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return { code: ctx.exitCode, keepsRunning: ctx.keepsRunning };
  } catch (err) {
    const line = errorLine(err, program, argv);
    if (line) ctx.err(`${line}\n`);
    if (io.env.TLSRPT_DEBUG && !(err instanceof CommanderError) && err instanceof Error && err.stack) ctx.err(`${err.stack}\n`);
    return { code: exitCodeFor(err), keepsRunning: false };
  }
}

/** The one line an error prints, or null when commander already printed what was asked (help, version). */
function errorLine(err: unknown, program: Command, argv: readonly string[]): string | null {
  if (err instanceof ConfigError) return `tlsrpt: configuration error: ${err.message}`;
  if (err instanceof UsageError) return `tlsrpt: ${err.message}`;
  if (err instanceof CommanderError) {
    // Help was printed: asked for (exit 0), or because no command was given (exit 2).
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return null;
    const command = commandPath(program, argv);
    return `tlsrpt: ${err.message.replace(/^error: /, '')} (run "${command} --help" for usage)`;
  }
  const advice = adviceFor(err);
  return `tlsrpt: ${errorMessage(err)}${advice ? `; ${advice}` : ''}`;
}

/** What to do about a failure whose message names only the symptom (a refused connection, a missing database). */
function adviceFor(err: unknown): string | null {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    // SQLSTATE 3D000 invalid_catalog_name: the database named in DATABASE_URL does not exist.
    if ((e as { code?: unknown }).code === '3D000') return 'run "tlsrpt migrate" to create it, or check DATABASE_URL';
    if (isServiceOutage(e))
      return 'check that PostgreSQL and Redis are running and that DATABASE_URL and REDIS_URL point at them ("tlsrpt config" shows both)';
  }
  return null;
}

/** "tlsrpt quarantine list" for `quarantine list --limit 0`: the command and subcommands named on the line. */
function commandPath(program: Command, argv: readonly string[]): string {
  const names = [program.name()];
  let command = program;
  for (const arg of argv) {
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub) {
      command = sub;
      names.push(sub.name());
    }
  }
  return names.join(' ');
}
