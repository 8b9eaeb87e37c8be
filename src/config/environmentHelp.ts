/**
 * The "Environment" part of a command's --help, from the variables table: exactly the variables that
 * command reads, with their defaults, so the help cannot drift from the loader as the hand-written list did.
 */
import { VARIABLES, VARIABLE_NAMES, type Reader, type VariableName } from './variables.js';

/** The commands that document their environment, and the parts of the program each one runs. */
export const COMMAND_READERS = {
  serve: ['receiver', 'worker', 'http', 'imap'],
  receiver: ['receiver'],
  worker: ['worker'],
  http: ['http'],
  migrate: ['migrate'],
  imap: ['imap'],
  config: ['receiver', 'worker', 'http', 'migrate', 'policy', 'imap'],
} as const satisfies Record<string, readonly Reader[]>;

export type DocumentedCommand = keyof typeof COMMAND_READERS;

/** The variables `command` reads, in the table's order. */
export function variablesReadBy(command: DocumentedCommand): VariableName[] {
  const readers: readonly Reader[] = COMMAND_READERS[command];
  return VARIABLE_NAMES.filter((name) => VARIABLES[name].readBy.some((r) => readers.includes(r)));
}

export function environmentHelp(command: DocumentedCommand): string {
  const names = variablesReadBy(command);
  const width = Math.max(...names.map((n) => n.length));
  const lines = names.map((name) => {
    const v = VARIABLES[name];
    const value = v.default ?? v.unset;
    return `  ${name.padEnd(width)}  ${v.doc} [${value}]${v.reload !== 'restart' ? ' (SIGHUP)' : ''}`;
  });
  return [
    '',
    'Environment (or the same names in the YAML file of --config FILE / TLSRPT_CONFIG; the environment wins;',
    'defaults in brackets; (SIGHUP): applied on SIGHUP without a restart):',
    ...lines,
    'See README "Configuration" for each variable.',
  ].join('\n');
}
