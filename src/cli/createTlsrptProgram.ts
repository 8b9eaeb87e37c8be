/**
 * The `tlsrpt` command tree, built afresh for each run around one CliContext: commander reads the arguments,
 * the commands read configuration and write output through the context, and nothing exits the process
 * (exitOverride: commander throws instead, and runTlsrpt turns what was thrown into the exit status).
 */
import { Command } from 'commander';
import { registerAlertCommands } from './alertCommands.js';
import type { CliContext } from './cliContext.js';
import { registerCoreCommands } from './coreCommands.js';
import { registerHealthCommands } from './healthCommands.js';
import { registerHttpCommands } from './httpCommands.js';
import { registerImapCommands } from './imapCommands.js';
import { registerPolicyCommands } from './policyCommands.js';
import { registerPruneCommands } from './pruneCommands.js';
import { registerQuarantineCommands } from './quarantineCommands.js';
import { registerReportCommands } from './reportCommands.js';
import { registerStatsCommands } from './statsCommands.js';
import { registerUserCommands } from './userCommands.js';

export const EXIT_STATUS_HELP = `
Exit status (every command): 0 done; 1 a finding (e.g. a policy with errors, a domain not ready, a failed
check) or a failure (e.g. the database cannot be read); 2 usage or configuration error. Errors are one line
starting "tlsrpt:"; set TLSRPT_DEBUG=1 to add the stack trace.`;

export function createTlsrptProgram(ctx: CliContext): Command {
  const program = new Command();
  // Before any subcommand is added: subcommands copy these settings from their parent.
  program
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.out(s),
      writeErr: (s) => ctx.err(s),
      // runTlsrpt prints every error as one "tlsrpt: ..." line, commander's usage errors included.
      outputError: () => undefined,
    })
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true });
  program
    .name('tlsrpt')
    .description(
      'Receive, store and query SMTP TLS reports (RFC 8460). Configuration is read from environment variables and an optional YAML file (--config or TLSRPT_CONFIG): run "tlsrpt config" to see the values in effect.',
    )
    .option('--config <file>', 'read configuration from this YAML file (sets TLSRPT_CONFIG; README "Configuration")')
    .addHelpText('after', EXIT_STATUS_HELP)
    .hook('preAction', (_program, actionCommand) => {
      const file = actionCommand.optsWithGlobals<{ config?: string }>().config;
      if (file !== undefined) ctx.configFile = file;
    });

  registerCoreCommands(program, ctx);
  registerHttpCommands(program, ctx);
  registerHealthCommands(program, ctx);
  registerImapCommands(program, ctx);
  registerStatsCommands(program, ctx);
  registerQuarantineCommands(program, ctx);
  registerReportCommands(program, ctx);
  registerPruneCommands(program, ctx);
  registerPolicyCommands(program, ctx);
  registerAlertCommands(program, ctx);
  registerUserCommands(program, ctx);
  return program;
}
