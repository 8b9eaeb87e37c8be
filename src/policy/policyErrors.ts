/**
 * Errors of the MTA-STS commands. Each carries a stable kebab-case code (README "MTA-STS") and a message that
 * says what to change; the CLI prints the message as one line and exits non-zero.
 */
export class PolicyInputError extends Error {
  override readonly name = 'PolicyInputError';
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
