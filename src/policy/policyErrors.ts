/**
 * Errors of the MTA-STS commands. Each carries a stable kebab-case code from POLICY_PROBLEMS (README "MTA-STS")
 * and a message that says what to change; the CLI prints the message as one line and exits non-zero.
 */
import { TlsrptError } from '../errors.js';
import type { PolicyProblemCode } from './syntax/problem.js';

export class PolicyInputError extends TlsrptError {
  override readonly name = 'PolicyInputError';
  declare readonly code: PolicyProblemCode;
  constructor(code: PolicyProblemCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
