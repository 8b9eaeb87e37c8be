/**
 * Runs the certificate checks of one listener (its pair, its certbot folder) on SIGHUP and every
 * TLS_RELOAD_CHECK_SECONDS. A timer and a contents check rather than fs.watch: certbot renews by repointing
 * symlinks, which a watch on the link path does not always report, and a periodic read costs little.
 */
import { combineResults, type TlsCheckResult, type TlsCheckTrigger } from './certificateSource.js';

export type TlsCheck = (trigger: TlsCheckTrigger) => Promise<TlsCheckResult>;

export interface TlsReloader {
  /** Runs every check once, after any check in progress; never rejects. */
  reload(trigger?: TlsCheckTrigger): Promise<TlsCheckResult>;
  /** Checks every `intervalMs` from now on; 0 does nothing (TLS_RELOAD_CHECK_SECONDS=0: SIGHUP only). */
  watch(intervalMs: number): void;
  unwatch(): void;
}

export function createTlsReloader(checks: readonly TlsCheck[]): TlsReloader {
  const runOnce = async (trigger: TlsCheckTrigger): Promise<TlsCheckResult> => {
    const results: TlsCheckResult[] = [];
    // Each check catches what it can fail on; one that throws anyway counts as failed, and the others run.
    for (const check of checks) results.push(await check(trigger).catch((): TlsCheckResult => 'failed'));
    return combineResults(results);
  };
  // One run at a time, each after the one before: a SIGHUP reads the files as they are when its turn comes,
  // never a result read before its caller's change (the timer racing a SIGHUP).
  let last: Promise<TlsCheckResult> = Promise.resolve('unchanged');
  let running = 0;
  const reload = (trigger: TlsCheckTrigger = 'signal'): Promise<TlsCheckResult> => {
    running += 1;
    last = last.then(
      () => runOnce(trigger),
      () => runOnce(trigger),
    );
    return last.finally(() => (running -= 1));
  };
  let timer: NodeJS.Timeout | null = null;
  return {
    reload,
    watch(intervalMs) {
      if (timer || intervalMs <= 0) return;
      timer = setInterval(() => {
        // A slow disk (or a huge folder) must not pile checks up behind one another.
        if (running === 0) void reload('poll');
      }, intervalMs);
      timer.unref();
    },
    unwatch() {
      if (timer) clearInterval(timer);
      timer = null;
    },
  };
}
