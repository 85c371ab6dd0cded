import { randomUUID } from 'node:crypto'
import type { Clock } from '@acme/core'
import { WebhooksErrors } from '../errors.js'
import { inTenant, type SqlClient, type TransactionalClient } from '../sql.js'

/** `queued` (its job has not started), `running`, `done` (every delivery attempted), `failed`. */
export type ReplayState = 'queued' | 'running' | 'done' | 'failed'

export interface ReplayView {
  id: string
  endpointId: string
  since: Date
  state: ReplayState
  /** Deliveries made due again so far (final once the job has gone through them all). */
  total: number
  /** Of those, how many have been attempted since (delivered, failed again or cancelled). */
  done: number
  /** Of those, how many were delivered. */
  delivered: number
  /** Why it failed; null otherwise. */
  error: string | null
  createdAt: Date
  updatedAt: Date
}

export interface ReplayServiceDeps {
  prisma: TransactionalClient
  clock: Clock
  /** Deliveries made due per transaction. */
  batchSize: number
  /** Runs queued per batch: the tenant's cap (a run takes the others in turn). */
  perTenantConcurrency: number
  /** Queues the replay's job (core's jobs); its job id makes a second enqueue a no-op. */
  enqueueReplay(job: { tenantId: string; replayId: string }): Promise<void>
  /** Queues one delivery run (core's jobs), as the relay does. */
  enqueueAttempt(
    job: { tenantId: string; deliveryId: string },
    options: { jobId: string },
  ): Promise<void>
}

// The stored state `marked` (every delivery made due) reads as `running` until none is pending.
const VIEW = `SELECT r.id, r.endpoint_id AS "endpointId", r.since, r.total, r.error,
    r.created_at AS "createdAt", r.updated_at AS "updatedAt",
    CASE WHEN r.state = 'marked' THEN (CASE WHEN p.pending > 0 THEN 'running' ELSE 'done' END)
      ELSE r.state END AS state,
    r.total - p.pending AS done, p.delivered
  FROM webhook_replays r
  CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE d.status = 'pending')::int AS pending,
      count(*) FILTER (WHERE d.status = 'delivered')::int AS delivered
    FROM webhook_deliveries d WHERE d.tenant_id = r.tenant_id AND d.replay_id = r.id
  ) p`

/**
 * Replays of an endpoint's failed and cancelled deliveries as background jobs with progress.
 * Starting one is idempotent while one of the endpoint is under way (a second click answers the
 * same replay); the job makes the deliveries due again in batches, each marked with the replay,
 * and queues runs of the delivery engine, which sends them under the tenant's cap with their
 * original `webhook-id`s.
 */
export class ReplayService {
  readonly #deps: ReplayServiceDeps

  constructor(deps: ReplayServiceDeps) {
    this.#deps = deps
  }

  /** Starts a replay of the endpoint's deliveries since `since`, or answers the one under way. */
  async start(
    tenantId: string,
    endpointId: string,
    since: Date,
  ): Promise<{ replay: ReplayView; created: boolean }> {
    const now = this.#deps.clock()
    const started = await inTenant(this.#deps.prisma, tenantId, async (tx) => {
      // The endpoint's row lock puts two concurrent starts one after the other.
      const [endpoint] = await tx.$queryRawUnsafe<Array<{ enabled: boolean }>>(
        `SELECT enabled FROM webhook_endpoints WHERE tenant_id = $1::uuid AND id = $2::uuid
         FOR UPDATE`,
        tenantId,
        endpointId,
      )
      if (!endpoint) throw new WebhooksErrors.EndpointNotFound()
      if (!endpoint.enabled) {
        throw new WebhooksErrors.NotResendable({
          detail: 'The endpoint is disabled: enable it first.',
        })
      }
      const [active] = await tx.$queryRawUnsafe<ReplayView[]>(
        `${VIEW} WHERE r.tenant_id = $1::uuid AND r.endpoint_id = $2::uuid
           AND (r.state IN ('queued', 'running') OR (r.state = 'marked' AND p.pending > 0))
         ORDER BY r.created_at DESC LIMIT 1`,
        tenantId,
        endpointId,
      )
      if (active) return { replay: active, created: false }
      const id = randomUUID()
      await tx.$queryRawUnsafe(
        `INSERT INTO webhook_replays (id, tenant_id, endpoint_id, since, state, total, created_at,
           updated_at)
         VALUES ($1::uuid, $2::uuid, $3::uuid, $4, 'queued', 0, $5, $5) RETURNING id`,
        id,
        tenantId,
        endpointId,
        since,
        now,
      )
      return { replay: await this.#view(tx, tenantId, id), created: true }
    })
    // Queued after the commit; again for a replay still queued (its job may have been lost, as
    // in the in-process runner after a restart): the job id makes a duplicate a no-op.
    if (started.replay.state === 'queued') {
      await this.#deps.enqueueReplay({ tenantId, replayId: started.replay.id })
    }
    return started
  }

  /** One replay's progress; 404 for an id of another tenant. */
  async get(db: SqlClient, tenantId: string, replayId: string): Promise<ReplayView> {
    return this.#view(db, tenantId, replayId)
  }

  /**
   * The `webhooks.replay` job: makes the endpoint's failed and cancelled deliveries, created
   * between `since` and the replay's start, due now in batches, each batch in one transaction
   * with the replay's count, and queues delivery runs for them. Run again (a retried job), it
   * goes on where it stopped: a delivery this replay already took is not taken twice.
   */
  async run(tenantId: string, replayId: string): Promise<{ total: number }> {
    const { prisma, clock, batchSize } = this.#deps
    const replay = await inTenant(prisma, tenantId, async (tx) => {
      const [row] = await tx.$queryRawUnsafe<
        Array<{ endpointId: string; since: Date; createdAt: Date; enabled: boolean | null }>
      >(
        `UPDATE webhook_replays r SET state = 'running', updated_at = $3
         FROM webhook_endpoints e
         WHERE r.tenant_id = $1::uuid AND r.id = $2::uuid AND r.state IN ('queued', 'running')
           AND e.tenant_id = r.tenant_id AND e.id = r.endpoint_id
         RETURNING r.endpoint_id AS "endpointId", r.since, r.created_at AS "createdAt", e.enabled`,
        tenantId,
        replayId,
        clock(),
      )
      return row ?? null
    })
    // Done, failed, or deleted with its endpoint: nothing left to do.
    if (!replay) return { total: 0 }
    if (!replay.enabled) {
      await this.#finish(tenantId, replayId, 'failed', 'The endpoint was disabled.')
      return { total: 0 }
    }
    let total = 0
    for (;;) {
      const ids = await inTenant(prisma, tenantId, async (tx) => {
        const now = clock()
        const rows = await tx.$queryRawUnsafe<Array<{ id: string }>>(
          `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $6,
             lease_until = NULL, updated_at = $6, replay_id = $3::uuid
           WHERE id IN (
             SELECT id FROM webhook_deliveries
             WHERE tenant_id = $1::uuid AND endpoint_id = $2::uuid
               AND status IN ('failed', 'cancelled') AND created_at >= $4 AND created_at <= $5
               AND replay_id IS DISTINCT FROM $3::uuid
             ORDER BY created_at LIMIT $7
             FOR UPDATE SKIP LOCKED
           ) RETURNING id`,
          tenantId,
          replay.endpointId,
          replayId,
          replay.since,
          replay.createdAt,
          now,
          batchSize,
        )
        await tx.$queryRawUnsafe(
          `UPDATE webhook_replays SET total = total + $3, updated_at = $4
           WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING id`,
          tenantId,
          replayId,
          rows.length,
          now,
        )
        return rows.map((row) => row.id)
      })
      total += ids.length
      for (const deliveryId of ids.slice(0, this.#deps.perTenantConcurrency)) {
        await this.#deps.enqueueAttempt(
          { tenantId, deliveryId },
          { jobId: `${deliveryId}.replay.${replayId}` },
        )
      }
      if (ids.length < batchSize) break
    }
    await this.#finish(tenantId, replayId, 'marked', null)
    return { total }
  }

  async #finish(
    tenantId: string,
    replayId: string,
    state: 'marked' | 'failed',
    error: string | null,
  ): Promise<void> {
    await inTenant(this.#deps.prisma, tenantId, async (tx) =>
      tx.$queryRawUnsafe(
        `UPDATE webhook_replays SET state = $3, error = $4, updated_at = $5
         WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING id`,
        tenantId,
        replayId,
        state,
        error,
        this.#deps.clock(),
      ),
    )
  }

  async #view(db: SqlClient, tenantId: string, replayId: string): Promise<ReplayView> {
    const [row] = await db.$queryRawUnsafe<ReplayView[]>(
      `${VIEW} WHERE r.tenant_id = $1::uuid AND r.id = $2::uuid`,
      tenantId,
      replayId,
    )
    if (!row) throw new WebhooksErrors.ReplayNotFound()
    return row
  }
}
