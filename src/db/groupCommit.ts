/**
 * Group commit: callers submit one item each and get their own result, but items that arrive while a
 * flush is running are written together by the next flush, in one transaction. With fsync on, a commit
 * costs a disk flush (milliseconds on a VM); sharing it between many reports is what lets the receiver
 * and the worker keep up with a burst. A lone item is flushed at once (next tick), so idle latency does not grow.
 */
export interface GroupCommit<I, O> {
  submit(item: I): Promise<O>;
}

interface Pending<I, O> {
  item: I;
  resolve: (v: O) => void;
  reject: (e: unknown) => void;
}

/**
 * `flush` receives up to `maxBatch` items and returns one result per item, in order; if it throws, every
 * item of that batch is rejected with the error (nothing of the batch was committed).
 */
export function createGroupCommit<I, O>(flush: (items: I[]) => Promise<O[]>, maxBatch: number): GroupCommit<I, O> {
  const queue: Pending<I, O>[] = [];
  let flushing = false;

  const drain = async (): Promise<void> => {
    flushing = true;
    while (queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      try {
        const results = await flush(batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(results[i]!));
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
    flushing = false;
  };

  return {
    submit(item) {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        // setImmediate: items submitted in the same turn of the event loop join the first batch.
        if (!flushing) {
          flushing = true;
          setImmediate(() => void drain());
        }
      });
    },
  };
}

/** A group commit whose flush has no per-item result: callers learn only that their item was flushed. */
export function createGroupRun<I>(run: (items: I[]) => Promise<unknown>, maxBatch: number): GroupCommit<I, void> {
  return createGroupCommit(async (items: I[]) => {
    await run(items);
    return items.map(() => undefined);
  }, maxBatch);
}
