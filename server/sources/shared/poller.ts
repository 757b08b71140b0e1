import type { Kysely } from "kysely";
import type { Database } from "../../../db/types";
import { logger } from "../../logger";
import { RejectionLog, visible } from "./rejections";
import { acquireLease, releaseLease, updateStatus } from "./status.repository";

/**
 * What every follower shares: one poll at a time on a timer (at once again while a poll says
 * more is waiting), under the source's lease (one process follows a source, the others stand by
 * and take over when it lapses), a failed poll recorded for /admin/health and rethrown.
 */

export const LEASE_MS = 15_000;

export interface Lease {
  source: string;
  kind: string;
  owner: string;
}

/**
 * Runs `poll` when this owner holds the lease (result.leader), with a fresh rejection log whose
 * total lands in result.rejected; a failure counts in source_status and is rethrown.
 */
export async function pollUnderLease<R extends { leader: boolean; rejected: number }>(
  db: Kysely<Database>,
  lease: Lease,
  result: R,
  poll: (log: RejectionLog) => Promise<void>,
): Promise<R> {
  if (!(await acquireLease(db, lease.source, lease.kind, lease.owner, LEASE_MS))) return result;
  result.leader = true;
  const log = new RejectionLog();
  try {
    await poll(log);
  } catch (err) {
    await updateStatus(db, lease.source, { error: visible((err as Error).message, 500) }).catch(() => {});
    throw err;
  } finally {
    result.rejected = log.total;
  }
  return result;
}

export class PollLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  constructor(
    private readonly pollOnce: () => Promise<object>,
    private readonly intervalMs: number,
    private readonly label: string,
  ) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      let more = false;
      this.running = this.pollOnce()
        .then((r) => (more = "more" in r && r.more === true))
        .catch((err) => logger.warn(`[${this.label}] follower poll failed: ${(err as Error).message}`))
        .finally(() => {
          if (!this.stopped) {
            this.timer = setTimeout(tick, more ? 0 : this.intervalMs);
            this.timer.unref();
          }
        });
    };
    tick();
  }

  /** Stops the timer, waits for a poll under way, and gives the lease up (unless `release: false`). */
  async stop(db: Kysely<Database>, lease: Lease, opts: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (opts.release !== false) await releaseLease(db, lease.source, lease.owner).catch(() => {});
  }
}
