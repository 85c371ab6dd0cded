import type { Clock } from '@acme/core'
import { WebhooksErrors } from '../errors.js'
import type { SqlClient } from '../sql.js'

export interface DeliveryView {
  id: string
  messageId: string
  eventType: string
  status: 'pending' | 'delivered' | 'failed' | 'cancelled'
  attempts: number
  nextAttemptAt: Date | null
  createdAt: Date
  updatedAt: Date
}

export interface AttemptView {
  attempt: number
  status: number | null
  outcome: 'delivered' | 'failed' | 'gone' | 'refused' | 'timeout' | 'network'
  error: string | null
  durationMs: number
  responseHeaders: Record<string, string>
  responseBody: string
  attemptedAt: Date
}

const DELIVERY_COLUMNS = `d.id, d.message_id AS "messageId", m.event_type AS "eventType", d.status,
  d.attempts, d.next_attempt_at AS "nextAttemptAt", d.created_at AS "createdAt",
  d.updated_at AS "updatedAt"`

/**
 * The delivery log and what a tenant does with it: read it, resend one delivery (replays of an
 * endpoint's failures are `ReplayService`'s). `db` is `request.db`; every statement also names the tenant.
 */
export class DeliveryLog {
  readonly #clock: Clock

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** An endpoint's deliveries, newest first; `before` pages on `createdAt`. */
  async list(
    db: SqlClient,
    tenantId: string,
    endpointId: string,
    query: { status?: string; before?: Date; limit: number },
  ): Promise<DeliveryView[]> {
    await this.#endpoint(db, tenantId, endpointId)
    return db.$queryRawUnsafe<DeliveryView[]>(
      `SELECT ${DELIVERY_COLUMNS}
       FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
       WHERE d.tenant_id = $1::uuid AND d.endpoint_id = $2::uuid
         AND ($3::text IS NULL OR d.status = $3) AND ($4::timestamptz IS NULL OR d.created_at < $4)
       ORDER BY d.created_at DESC, d.id DESC LIMIT $5`,
      tenantId,
      endpointId,
      query.status ?? null,
      query.before ?? null,
      query.limit,
    )
  }

  /** Every attempt of one delivery, first first. */
  async attempts(db: SqlClient, tenantId: string, deliveryId: string): Promise<AttemptView[]> {
    await this.#delivery(db, tenantId, deliveryId)
    return db.$queryRawUnsafe<AttemptView[]>(
      `SELECT attempt, status, outcome, error, duration_ms AS "durationMs",
         response_headers AS "responseHeaders", response_body AS "responseBody",
         attempted_at AS "attemptedAt"
       FROM webhook_attempts WHERE tenant_id = $1::uuid AND delivery_id = $2::uuid
       ORDER BY attempt`,
      tenantId,
      deliveryId,
    )
  }

  /**
   * Makes a finished delivery due again, now: one more attempt with the same `webhook-id` (a
   * resend is one attempt; the retry schedule is not run again). Its endpoint must be enabled.
   */
  async resend(db: SqlClient, tenantId: string, deliveryId: string): Promise<{ attempts: number }> {
    const now = this.#clock()
    const rows = await db.$queryRawUnsafe<Array<{ attempts: number }>>(
      `UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = $3, lease_until = NULL,
         updated_at = $3
       FROM webhook_endpoints e
       WHERE d.tenant_id = $1::uuid AND d.id = $2::uuid AND d.status <> 'pending'
         AND e.id = d.endpoint_id AND e.enabled
       RETURNING d.attempts`,
      tenantId,
      deliveryId,
      now,
    )
    const row = rows[0]
    if (row) return row
    const [current] = await db.$queryRawUnsafe<Array<{ status: string }>>(
      `SELECT d.status FROM webhook_deliveries d WHERE d.tenant_id = $1::uuid AND d.id = $2::uuid`,
      tenantId,
      deliveryId,
    )
    if (!current) throw new WebhooksErrors.DeliveryNotFound()
    throw new WebhooksErrors.NotResendable({
      detail:
        current.status === 'pending'
          ? 'The delivery is still pending: it will be attempted on its schedule.'
          : 'The endpoint is disabled: enable it first.',
    })
  }

  async #endpoint(db: SqlClient, tenantId: string, endpointId: string) {
    const [endpoint] = await db.$queryRawUnsafe<Array<{ enabled: boolean }>>(
      'SELECT enabled FROM webhook_endpoints WHERE tenant_id = $1::uuid AND id = $2::uuid',
      tenantId,
      endpointId,
    )
    if (!endpoint) throw new WebhooksErrors.EndpointNotFound()
    return endpoint
  }

  async #delivery(db: SqlClient, tenantId: string, deliveryId: string) {
    const [delivery] = await db.$queryRawUnsafe<Array<{ id: string }>>(
      'SELECT id FROM webhook_deliveries WHERE tenant_id = $1::uuid AND id = $2::uuid',
      tenantId,
      deliveryId,
    )
    if (!delivery) throw new WebhooksErrors.DeliveryNotFound()
  }
}
