#!/usr/bin/env node
/**
 * The `tlsrpt` command. Each subcommand is a thin wrapper: configuration comes from the environment
 * (README "Configuration"), and errors are printed as one line that says what to do, not a stack trace.
 */
import { Command } from 'commander';
import { ConfigError, errorMessage } from '../errors.js';
import { registerCoreCommands } from './coreCommands.js';
import { registerAlertCommands } from './alertCommands.js';
import { registerHttpCommands } from './httpCommands.js';
import { registerPolicyCommands } from './policyCommands.js';
import { registerQuarantineCommands } from './quarantineCommands.js';
import { registerStatsCommands } from './statsCommands.js';

const program = new Command();
program
  .name('tlsrpt')
  .description(
    'Receive, store and query SMTP TLS reports (RFC 8460).\nConfiguration is read from environment variables: run "tlsrpt config" to see the values in effect.',
  )
  .showHelpAfterError('(run "tlsrpt --help" for the list of commands)')
  .configureHelp({ sortSubcommands: false });

registerCoreCommands(program);
registerHttpCommands(program);
registerStatsCommands(program);
registerQuarantineCommands(program);
registerPolicyCommands(program);
registerAlertCommands(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`tlsrpt: configuration error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`tlsrpt: ${errorMessage(err)}\n`);
  if (process.env.TLSRPT_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
  process.exit(1);
});
