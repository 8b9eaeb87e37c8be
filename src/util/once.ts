/** Wraps an async function so that later calls share the first call's promise (idempotent stop()). */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}
