/**
 * The job handler, and the one place that decides retry versus quarantine:
 * - the input is bad (ReportInputError)         -> quarantined with its reason; the job succeeds
 * - a service is down (Postgres/Redis outage), or the transaction lost a race (deadlock, serialization failure)
 *                                               -> thrown: BullMQ retries with backoff, the message stays pending
 *   (isServiceOutage decides by the error's kind: SQLSTATE class, errno, error class)
 * - anything else (a bug, or an input that trips one) -> retried up to WORKER_MAX_ATTEMPTS, then quarantined
 *   as internal-error with the error message, so `tlsrpt reprocess` can replay it after a fix.
 * Between decoding and storing, the authentication step (DKIM for mail, the client address for HTTPS;
 * src/auth/authenticateMessage.ts): a DNS failure there is a service outage (retried); with
 * REPORT_AUTHENTICATION=require an unauthenticated mail is quarantined as not-authenticated.
 * A message that is no longer pending (processed by an earlier job) is left alone: processing is idempotent.
 * Every state change goes through src/store/messageState.ts; when another process (a second job, `tlsrpt
 * reprocess`, `tlsrpt ingest`) settled the message while this one worked on it, the result is `skipped` with
 * `raced: true` and the state that process left, which stays as it is.
 */
import { requireAuthentication, type Authenticator } from '../auth/authenticateMessage.js';
import { recordAuthentication } from '../auth/recordAuthentication.js';
import type { MessageAuthentication } from '../auth/verifyDkim.js';
import type { Pool } from '../db/pool.js';
import { ReportInputError, errorMessage, isServiceOutage, type QuarantineReason } from '../errors.js';
import { MessageStateChanged, quarantineMessage, recordAttempt } from '../store/messageState.js';
import { loadRawMessage, type MessageStatus, type RawMessage } from '../store/rawMessages.js';
import { storeReport, type StoreResult } from '../store/storeReport.js';
import { decodeMessage, type DecodedReport } from './decodeMessage.js';
import type { MemoryBudget } from './memoryBudget.js';

export interface ProcessDeps {
  pool: Pool;
  reportMaxBytes: number;
  maxAttempts: number;
  /** The worker's memory budget (src/pipeline/memoryBudget.ts): held from before inflating until stored. */
  memoryBudget?: MemoryBudget;
  /** Verifies who sent each message (createAuthenticator(config.authentication)); absent: not verified. */
  authenticator?: Authenticator;
  /** Loads a raw message, possibly with others in one query (the worker's batch load). */
  load?: (rawMessageId: number) => Promise<RawMessage | null>;
  /** Stores a decoded report, possibly with others in one statement (the worker's group commit). */
  store?: (rawMessageId: number, decoded: DecodedReport) => Promise<StoreResult>;
}

export type ProcessResult =
  | { outcome: 'stored' | 'duplicate' | 'conflict'; reportId: number; decoded: DecodedReport }
  | { outcome: 'quarantined'; reason: QuarantineReason; detail: string }
  | { outcome: 'skipped'; status: MessageStatus | 'missing'; raced?: boolean };

export interface ProcessOptions {
  /**
   * The previous run of this message's job stopped without an outcome: the process died (a crash, out of
   * memory, killed). Counted as an attempt before decoding, so a message that crashes the worker every time
   * ends quarantined as internal-error instead of crashing it again after every restart (issue 15 finding 1).
   */
  previousRunStopped?: boolean;
}

export async function processMessage(deps: ProcessDeps, rawMessageId: number, options: ProcessOptions = {}): Promise<ProcessResult> {
  try {
    return await decideMessage(deps, rawMessageId, options);
  } catch (err) {
    if (err instanceof MessageStateChanged) return { outcome: 'skipped', status: err.found, raced: true };
    throw err;
  }
}

async function decideMessage(deps: ProcessDeps, rawMessageId: number, options: ProcessOptions): Promise<ProcessResult> {
  const message = deps.load ? await deps.load(rawMessageId) : await loadRawMessage(deps.pool, rawMessageId);
  if (!message) return { outcome: 'skipped', status: 'missing' };
  if (message.status !== 'pending') return { outcome: 'skipped', status: message.status };

  if (options.previousRunStopped) {
    const why = 'the worker stopped while processing this message (crashed, ran out of memory, or was killed)';
    await recordAttempt(deps.pool, rawMessageId, why);
    message.attempts += 1;
    if (message.attempts >= deps.maxAttempts) {
      const detail = `processing did not finish ${message.attempts} times: ${why}`;
      await quarantineMessage(deps.pool, rawMessageId, 'internal-error', detail);
      return { outcome: 'quarantined', reason: 'internal-error', detail };
    }
  }

  const lease = deps.memoryBudget?.lease(deps.reportMaxBytes);
  let authentication: MessageAuthentication | null = null;
  try {
    let decoded = await decodeMessage(message.raw, { reportMaxBytes: deps.reportMaxBytes, memory: lease });
    if (deps.authenticator) {
      authentication = await deps.authenticator.authenticate({ ...message, bareBody: decoded.bareBody });
      decoded = { ...decoded, authentication };
      requireAuthentication(deps.authenticator.mode, authentication);
    }
    const stored = deps.store ? await deps.store(rawMessageId, decoded) : await storeReport(deps.pool, rawMessageId, decoded);
    return { ...stored, decoded };
  } catch (err) {
    // Settled by another process meanwhile: nothing of ours to count or quarantine.
    if (err instanceof MessageStateChanged) throw err;
    if (err instanceof ReportInputError) {
      await quarantineMessage(deps.pool, rawMessageId, err.reason, err.detail);
      // What was found stays with the quarantined message, for `tlsrpt quarantine show`.
      if (authentication) await recordAuthentication(deps.pool, rawMessageId, authentication);
      return { outcome: 'quarantined', reason: err.reason, detail: err.detail };
    }
    if (isServiceOutage(err)) throw err;
    const msg = errorMessage(err);
    await recordAttempt(deps.pool, rawMessageId, msg);
    if (message.attempts + 1 >= deps.maxAttempts) {
      const detail = `processing failed ${message.attempts + 1} times: ${msg}`;
      await quarantineMessage(deps.pool, rawMessageId, 'internal-error', detail);
      return { outcome: 'quarantined', reason: 'internal-error', detail };
    }
    throw err;
  } finally {
    lease?.release();
  }
}
