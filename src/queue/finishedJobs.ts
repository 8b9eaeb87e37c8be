/**
 * BullMQ ignores the `add` of a job id it still keeps, and it keeps the last 1,000 completed jobs of each
 * queue. The job ids of this project name rows (`raw-17..48`, `window-5`, `delivery-9`), so a database
 * dropped and made again, or restored from a backup, while Redis kept its data, hands out ids whose jobs
 * Redis already holds as finished: their new work would be ignored until 1,000 later jobs pushed the old
 * ones out (months, at a few reports a day). The safety nets that queue again what waits too long (the
 * sweep, the alert check) remove such a finished job first. A finished job whose row still waits cannot
 * have done that row's work; if it finished just now, the job added again finds the row settled and stops.
 */
import type { Queue } from 'bullmq';

/** Removes, of `jobIds`, the jobs that finished (completed or failed); live ones are left alone. */
export async function removeFinishedJobs(queue: Queue, jobIds: readonly string[]): Promise<void> {
  for (const id of jobIds) {
    const state = await queue.getJobState(id);
    if (state === 'completed' || state === 'failed') await queue.remove(id);
  }
}
