import { cpus, loadavg } from 'node:os';

/**
 * How much longer than asked a wait may last: the machine's load over its cores (at least 1, at most 10). A
 * deadline here only stops a test that hangs; it is not a speed check (that is `npm run bench`). On a machine
 * loaded many times over (several suites at once on two cores) a 30 s wait for a process to start expired
 * while the process was merely slow, and the test failed for that alone.
 */
export function loadFactor(): number {
  return Math.min(10, Math.max(1, loadavg()[0]! / Math.max(1, cpus().length)));
}

/** Polls `check` until it returns a truthy value (no fixed sleeps); fails with `what` after `timeoutMs` (times loadFactor()). */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const allowed = Math.round(timeoutMs * loadFactor());
  const deadline = Date.now() + allowed;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${allowed} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
