/**
 * JSON Schema validation of a normalised report against schemas/tlsrpt-report.schema.json (RFC 8460 4).
 * The schema is compiled once per process; validation of a typical report costs a few microseconds.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ReportInputError } from '../errors.js';
import { projectPath } from '../util/projectPath.js';
import type { WireReport } from './reportTypes.js';

// ajv-formats is CommonJS with a default export; under NodeNext its callable is on .default.
type AddFormats = (ajv: Ajv, formats: string[]) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

let compiled: ValidateFunction<WireReport> | undefined;

/**
 * Compiles the schema now rather than at the first report: a worker calls it as it starts, so the first
 * reports do not wait for the compile (about a quarter of a second of CPU on a loaded 2-core machine).
 */
export function compileReportSchema(): void {
  validator();
}

function validator(): ValidateFunction<WireReport> {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(projectPath('schemas', 'tlsrpt-report.schema.json'), 'utf8'));
    const ajv = new Ajv({ allErrors: false, strict: true, strictRequired: false, allowUnionTypes: true });
    addFormats(ajv, ['date-time']);
    compiled = ajv.compile<WireReport>(schema);
  }
  return compiled;
}

/** Throws ReportInputError('schema-violation') naming the JSON path and what was expected. */
export function validateReport(report: unknown): asserts report is WireReport {
  const validate = validator();
  if (!validate(report)) {
    throw new ReportInputError('schema-violation', describeError(validate.errors?.[0], report));
  }
}

function describeError(e: ErrorObject | undefined, report: unknown): string {
  if (!e) return 'the report does not match the RFC 8460 schema';
  const path = e.instancePath ? toJsonPath(e.instancePath) : '$';
  switch (e.keyword) {
    case 'required':
      return `${path}: missing required key "${(e.params as { missingProperty: string }).missingProperty}" (RFC 8460 section 4)`;
    case 'enum':
      return `${path}: ${JSON.stringify(valueAt(report, e.instancePath))} is not one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'format':
      return `${path}: ${JSON.stringify(valueAt(report, e.instancePath))} is not an RFC 3339 date-time`;
    case 'type':
      return `${path}: expected ${(e.params as { type: string }).type}, got ${describeValue(valueAt(report, e.instancePath))}`;
    case 'minimum':
      return `${path}: ${JSON.stringify(valueAt(report, e.instancePath))} is negative; session counts are integers >= 0`;
    case 'minItems':
      return `${path}: the list is empty; a report needs at least one policy`;
    case 'minLength':
      return `${path}: must not be empty`;
    default:
      return `${path}: ${e.message ?? 'does not match the schema'}`;
  }
}

/** "/policies/0/summary" -> "$.policies[0].summary" */
function toJsonPath(pointer: string): string {
  return (
    '$' +
    pointer
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((p) => (/^\d+$/.test(p) ? `[${p}]` : /^[A-Za-z_][\w]*$/.test(p) ? `.${p}` : `["${p}"]`))
      .join('')
  );
}

function valueAt(root: unknown, pointer: string): unknown {
  let v: unknown = root;
  for (const p of pointer.split('/').slice(1)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 60) + '…' : v)}`;
  if (typeof v === 'number' && !Number.isInteger(v)) return `the fraction ${v}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}
