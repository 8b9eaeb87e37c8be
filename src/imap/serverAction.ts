/**
 * What `tlsrpt imap` does on the server with a message once its raw bytes are committed (IMAP_PROCESSED),
 * and with mail that carries no TLS report (IMAP_NON_REPORT). Non-report mail is never deleted: it may be a
 * reply or a bounce a person has to read.
 */
import { ConfigError } from '../errors.js';

export type ProcessedAction = { kind: 'seen' } | { kind: 'move'; folder: string } | { kind: 'delete' };
export type NonReportAction = { kind: 'leave' } | { kind: 'move'; folder: string };

function moveFolder(value: string, name: string): string | null {
  const m = /^move:(.*)$/i.exec(value);
  if (!m) return null;
  const folder = m[1]!.trim();
  if (!folder) throw new ConfigError(name, '"move:" names no folder; write e.g. move:TLS-RPT/Processed');
  return folder;
}

export function parseProcessedAction(value: string, name: string): ProcessedAction {
  const lower = value.toLowerCase();
  if (lower === 'seen' || lower === 'delete') return { kind: lower };
  const folder = moveFolder(value, name);
  if (folder) return { kind: 'move', folder };
  throw new ConfigError(name, `"${value}" is not seen, move:FOLDER or delete (e.g. move:TLS-RPT/Processed)`);
}

export function parseNonReportAction(value: string, name: string): NonReportAction {
  if (value.toLowerCase() === 'leave') return { kind: 'leave' };
  const folder = moveFolder(value, name);
  if (folder) return { kind: 'move', folder };
  throw new ConfigError(name, `"${value}" is not leave or move:FOLDER (non-report mail is never deleted)`);
}

export function describeAction(a: ProcessedAction | NonReportAction): string {
  return a.kind === 'move' ? `move:${a.folder}` : a.kind;
}
