/**
 * `--format table|json|csv`, the one output flag of every command whose output is data (README "Commands").
 * `--json`, which some commands took before, stays as a deprecated alias of `--format json` because users'
 * scripts pass it.
 */
import { Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../stats/formatRows.js';

export interface FormatOptions {
  format: OutputFormat;
  json?: boolean;
}

export function addFormatOption(command: Command, help = 'table for people, json for programs, csv for spreadsheets'): Command {
  return command
    .addOption(new Option('--format <format>', help).choices(OUTPUT_FORMATS).default('table'))
    .addOption(new Option('--json', 'same as --format json (deprecated: kept for existing scripts)'));
}

export function outputFormat(opts: FormatOptions): OutputFormat {
  if (!opts.json) return opts.format;
  if (opts.format === 'csv')
    throw new UsageError('options-conflict', '--json and --format csv ask for two different outputs: give --format alone');
  return 'json';
}

/** The JSON output of a command: indented, one trailing newline. */
export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
