/**
 * Group commit: callers submit one item each and get their own result, but items that arrive while a
 * flush is running are written together by the next flush, in one transaction. With fsync on, a commit
 * costs a disk flush (milliseconds on a VM); sharing it between many reports is what lets the receiver
 * and the worker keep up with a burst. A lone item is flushed at once (next tick), so idle latency does not grow.
 * With `lingerMs`, an item waits up to that long for others to join it, unless its batch is full: for work
 * no sender waits for, where fewer and larger batches save round trips (a report's job in Redis, its alert
 * windows). Every round trip costs CPU on both sides (README "Measurements behind the code").
 */
export interface GroupCommit<I, O> {
  submit(item: I): Promise<O>;
  /** Flushes what waits, lingering or not, and resolves when nothing is waiting or being flushed. */
  drain(): Promise<void>;
}

export interface GroupOptions {
  /** How long an item may wait for others before its batch is flushed; 0 (the default): the next tick. */
  lingerMs?: number;
}

interface Pending<I, O> {
  item: I;
  /** performance.now() at submit. */
  at: number;
  resolve: (v: O) => void;
  reject: (e: unknown) => void;
}

/**
 * `flush` receives up to `maxBatch` items and returns one result per item, in order; if it throws, every
 * item of that batch is rejected with the error (nothing of the batch was committed).
 */
export function createGroupCommit<I, O>(
  flush: (items: I[]) => Promise<O[]>,
  maxBatch: number,
  options: GroupOptions = {},
): GroupCommit<I, O> {
  const lingerMs = options.lingerMs ?? 0;
  const queue: Pending<I, O>[] = [];
  /** The flushing loop while it runs. */
  let running: Promise<void> | null = null;
  /** Cancels the loop to come (the next tick's, or the end of a linger), when one is set. */
  let pending: (() => void) | null = null;

  /** The loop starts after `delayMs`, or on the next tick without one. */
  const schedule = (delayMs: number | null, linger: boolean): void => {
    if (delayMs === null) {
      const tick = setImmediate(start, linger);
      pending = () => clearImmediate(tick);
    } else {
      const timer = setTimeout(start, delayMs, linger);
      pending = () => clearTimeout(timer);
    }
  };

  const loop = async (linger: boolean): Promise<void> => {
    while (queue.length > 0) {
      const wait = linger && queue.length < maxBatch ? queue[0]!.at + lingerMs - performance.now() : 0;
      if (wait > 0) {
        schedule(wait, true);
        return;
      }
      const batch = queue.splice(0, maxBatch);
      try {
        const results = await flush(batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
  };

  function start(linger: boolean): void {
    pending?.();
    pending = null;
    running = loop(linger).finally(() => {
      running = null;
    });
  }

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, at: performance.now(), resolve, reject });
        if (running) return; // the running loop takes it, after its linger if any
        if (lingerMs > 0 && queue.length >= maxBatch) start(true);
        // setImmediate: items submitted in the same turn of the event loop join the first batch.
        else if (!pending) schedule(lingerMs > 0 ? lingerMs : null, lingerMs > 0);
      });
    },
    async drain() {
      for (;;) {
        if (running) await running;
        else if (queue.length > 0) start(false);
        else return;
      }
    },
  };
}

/** A group commit whose flush has no per-item result: callers learn only that their item was flushed. */
export function createGroupRun<I>(
  run: (items: I[]) => Promise<unknown>,
  maxBatch: number,
  options: GroupOptions = {},
): GroupCommit<I, void> {
  return createGroupCommit(
    async (items: I[]) => {
      await run(items);
      return items.map(() => undefined);
    },
    maxBatch,
    options,
  );
}
