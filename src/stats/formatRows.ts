/**
 * Query rows -> text for a terminal (aligned table), for programs (JSON) or for spreadsheets (CSV).
 * Pure. Values are printed as the views hold them; only the table shows rates as percentages.
 * Report fields come from anyone who can mail us, so the table shows control characters escaped
 * (terminalText) and CSV defuses fields a spreadsheet would run as formulas (csvField).
 */
import { terminalText } from '../util/terminalText.js';

export const OUTPUT_FORMATS = ['table', 'json', 'csv'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface Column {
  name: string;
  /** count: right-aligned number; rate: a fraction, shown as a percentage in tables; flag: yes/no. */
  kind: 'text' | 'count' | 'rate' | 'flag';
}

export type Row = Record<string, unknown>;

export function formatRows(columns: readonly Column[], rows: readonly Row[], format: OutputFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(
        rows.map((r) => pick(columns, r)),
        null,
        2,
      )}\n`;
    case 'csv':
      return [columns.map((c) => csvField(c.name)), ...rows.map((r) => columns.map((c) => csvField(csvValue(r[c.name]))))]
        .map((line) => `${line.join(',')}\r\n`)
        .join('');
    case 'table':
      return formatTable(columns, rows);
  }
}

function pick(columns: readonly Column[], row: Row): Row {
  const out: Row = {};
  for (const c of columns) out[c.name] = row[c.name] ?? null;
  return out;
}

function formatTable(columns: readonly Column[], rows: readonly Row[]): string {
  const cells = rows.map((r) => columns.map((c) => tableValue(c, r[c.name])));
  const widths = columns.map((c, i) => Math.max(c.name.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]!.kind === 'count' || columns[i]!.kind === 'rate' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => terminalText(c.name))), ...cells.map(line)].map((l) => `${l}\n`).join('');
}

function tableValue(column: Column, value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (column.kind === 'rate' && typeof value === 'number') return formatPercent(value);
  if (column.kind === 'flag') return value ? 'yes' : 'no';
  return terminalText(String(value));
}

/** 0.0125 -> "1.25%"; up to three decimals of a percent, trailing zeros dropped. */
export function formatPercent(fraction: number): string {
  return `${Number((fraction * 100).toFixed(3))}%`;
}

function csvValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value);
}

/**
 * RFC 4180 2.6/2.7: quote fields holding a comma, quote or line break; double the quotes inside.
 * Before that, the OWASP rule against CSV injection: a field starting with `=`, `+`, `-`, `@`, tab or CR
 * is a formula to Excel, LibreOffice and Google Sheets (`=HYPERLINK(...)`, `=cmd|...` came out live in
 * `stats --format csv`), so it gets a leading `'`, which they show as text; such a field is always
 * quoted. A plain number ("-3", "+1.5") is data, not a formula, and stays as it is.
 */
export function csvField(value: string): string {
  const formula = /^[=+\-@\t\r]/.test(value) && !/^[+-]?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(value);
  if (formula) return `"'${value.replace(/"/g, '""')}"`;
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
