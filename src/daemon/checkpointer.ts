// Saves the live projections' checkpoints now and then, so a restarted daemon replays only the log's tail.
import type { Logger } from 'pino';
import { saveSerialized, serializeAll } from '../../projections/checkpoint.js';
import type { LiveProjections } from '../../projections/runtime.js';
import type { EventStore } from '../store/event-store.js';

export interface CheckpointPolicy {
  /** How often to consider a checkpoint (ms). */
  readonly intervalMs: number;
  /** Only when the log moved at least this many revisions (commits) since the last one. */
  readonly minRevisions: number;
}

export const DEFAULT_CHECKPOINTS: CheckpointPolicy = { intervalMs: 5 * 60_000, minRevisions: 2_000 };

export class Checkpointer {
  private timer: NodeJS.Timeout | undefined;
  private saving: Promise<void> | undefined;
  private lastRevision: number;

  constructor(
    private readonly store: EventStore,
    private readonly live: LiveProjections,
    private readonly log: Logger,
    private readonly policy: CheckpointPolicy = DEFAULT_CHECKPOINTS,
  ) {
    this.lastRevision = live.revision;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (!this.saving && this.live.revision - this.lastRevision >= this.policy.minRevisions) this.saving = this.save().finally(() => (this.saving = undefined));
    }, this.policy.intervalMs);
    this.timer.unref();
  }

  /** Serialises all projections at one revision (synchronously), then writes them. */
  async save(): Promise<void> {
    const t0 = performance.now();
    const snap = serializeAll(this.live.projections, this.live.current);
    const serializeMs = Math.round(performance.now() - t0);
    try {
      for (const p of this.live.projections) await saveSerialized(this.store, p, snap.bodies.get(p.name)!, snap.revision);
      this.lastRevision = snap.revision;
      this.log.info({ revision: snap.revision, serializeMs, ms: Math.round(performance.now() - t0) }, 'projection checkpoint saved');
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'projection checkpoint failed; will try again');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.saving;
  }
}
