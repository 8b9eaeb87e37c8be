/**
 * The one exit-status policy of every `tlsrpt` command (README "Commands"):
 *   0  done, nothing to report
 *   1  a finding (a policy with errors, a domain not ready, a failed check or delivery) or a failure
 *      (a database that cannot be read, a file that cannot be read, a bug)
 *   2  usage or configuration: a bad option or argument, a bad variable or configuration file
 * A command that finds something sets CliContext.exitCode; a thrown error is classed here, by its type.
 */
import { CommanderError } from 'commander';
import { EXIT_STATUS, exitStatusFor } from '../errors.js';

export const EXIT_OK = EXIT_STATUS.ok;
export const EXIT_FINDING = EXIT_STATUS.failure;
export const EXIT_USAGE = EXIT_STATUS.usage;

export function exitCodeFor(err: unknown): number {
  // CommanderError covers commander's own usage errors and InvalidArgumentError from option parsers; its
  // exitCode is 0 only for --help and --version.
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  if (err instanceof ExitStatusError) return err.exitStatus;
  // A usage or configuration error: 2; anything else: 1.
  return exitStatusFor(err);
}

/** An error whose exit status the command chose itself (readiness: a failure is 2, because 1 means "not ready"). */
export class ExitStatusError extends Error {
  override readonly name = 'ExitStatusError';
  constructor(
    readonly exitStatus: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
