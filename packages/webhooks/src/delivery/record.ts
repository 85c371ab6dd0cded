import { randomUUID } from 'node:crypto'
import type { SqlClient } from '../sql.js'
import type { Claimed, ClaimedRow, ClaimWindow } from './claim.js'
import type { DeliveryFailure, PostResult } from './http.js'
import { nextAttemptAt, parseRetryAfter } from './schedule.js'

/** What one attempt came to; `skipped` when the endpoint's own rate put it off. */
export type AttemptOutcome = 'skipped' | 'delivered' | 'retrying' | 'failed' | 'gone' | 'cancelled'

export interface Disabled {
  tenantId: string
  endpointId: string
  reason: 'gone' | 'failing'
}

export interface RecordSettings {
  retryScheduleSeconds: readonly number[]
  disableAfterFailingSeconds: number
}

/** The first bytes of a response body kept in the delivery log. */
export const RESPONSE_BODY_BYTES = 4_096
// Response headers that may carry credentials of the receiver's own systems are not logged.
const REDACTED_HEADERS = new Set([
  'set-cookie',
  'authorization',
  'www-authenticate',
  'proxy-authenticate',
])

/**
 * Records an attempt in `tx` (already in the tenant): its log row, the delivery's new state and
 * the endpoint's failure run. A success, the common case, is one statement (`recordDelivered`,
 * which records a batch of them at once); a failure also computes the retry and may disable the
 * endpoint (410, or failing too long), cancelling what it still had pending. `disabled` is for
 * the caller to announce once the transaction committed.
 */
export async function recordAttempt(
  tx: SqlClient,
  tenantId: string,
  claimed: Claimed,
  response: { result: PostResult | null; failure: DeliveryFailure | null },
  now: Date,
  settings: RecordSettings,
): Promise<{ outcome: AttemptOutcome; disabled: Disabled | null }> {
  const { result, failure } = response
  if (result && isDelivered(result)) {
    await recordDelivered(tx, tenantId, [{ claimed, result, at: now }])
    return { outcome: 'delivered', disabled: null }
  }
  const status = result?.status ?? null
  let outcome: 'gone' | 'retrying' | 'failed'
  let next: Date | null = null
  if (status === 410) outcome = 'gone'
  else {
    const retryAfter =
      status === 429 || status === 503 ? parseRetryAfter(result?.headers['retry-after'], now) : null
    next = nextAttemptAt(now, claimed.attempts, settings.retryScheduleSeconds, retryAfter)
    outcome = next ? 'retrying' : 'failed'
  }
  const log = [
    randomUUID(),
    tenantId,
    claimed.deliveryId,
    claimed.attempts,
    status,
    outcome === 'gone' ? 'gone' : (failure?.kind ?? 'failed'),
    failure ? failure.message.slice(0, 500) : status !== null ? `HTTP ${status}` : null,
    result?.durationMs ?? failure?.durationMs ?? 0,
    JSON.stringify(redactHeaders(result?.headers ?? {})),
    loggedBody(result?.body ?? ''),
    now,
  ]
  const insertLog = `INSERT INTO webhook_attempts (id, tenant_id, delivery_id, attempt, status,
      outcome, error, duration_ms, response_headers, response_body, attempted_at)
    VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6, $7, $8, $9::jsonb, $10, $11) RETURNING id`

  await tx.$queryRawUnsafe(insertLog, ...log)
  let disabled: Disabled | null = null
  // Off now, whether this attempt disabled it or a concurrent one of the endpoint did first.
  let endpointOff = false
  if (outcome === 'gone') {
    disabled = await disableEndpoint(tx, tenantId, claimed.endpointId, 'gone', now)
    endpointOff = true
  } else {
    const [endpoint] = await tx.$queryRawUnsafe<Array<{ failingSince: Date }>>(
      `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $3)
       WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING failing_since AS "failingSince"`,
      tenantId,
      claimed.endpointId,
      now,
    )
    const failingFor = endpoint ? now.getTime() - endpoint.failingSince.getTime() : 0
    if (failingFor >= settings.disableAfterFailingSeconds * 1000) {
      disabled = await disableEndpoint(tx, tenantId, claimed.endpointId, 'failing', now)
      endpointOff = true
    }
  }
  // After the endpoint's other pending deliveries were cancelled: this one failed.
  const finalStatus = outcome === 'retrying' && !endpointOff ? 'pending' : 'failed'
  await tx.$queryRawUnsafe(
    `UPDATE webhook_deliveries
     SET status = $3, next_attempt_at = $4, lease_until = NULL, updated_at = $5
     WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING id`,
    tenantId,
    claimed.deliveryId,
    finalStatus,
    finalStatus === 'pending' ? next : null,
    now,
  )
  return { outcome: endpointOff && outcome === 'retrying' ? 'failed' : outcome, disabled }
}

/** A 2xx answer: the attempt is recorded with others of its tenant by `recordDelivered`. */
export function isDelivered(result: PostResult | null): boolean {
  return result !== null && result.status >= 200 && result.status < 300
}

/** One delivered attempt: its claim, the answer, when it came. */
export interface DeliveredAttempt {
  claimed: Claimed
  result: PostResult
  at: Date
}

/**
 * Records delivered attempts of one tenant in `tx` (already in the tenant): their log rows, their
 * deliveries delivered, and the end of their endpoints' failure runs (`recordDeliveredAndClaim`
 * claiming nothing).
 */
export async function recordDelivered(
  tx: SqlClient,
  tenantId: string,
  attempts: readonly DeliveredAttempt[],
): Promise<void> {
  if (attempts.length === 0) return
  await recordDeliveredAndClaim(tx, tenantId, attempts, null)
}

/**
 * Records delivered attempts of one tenant, then claims up to `claim.limit` of its next due
 * deliveries (none with `null`), in one statement (`acme_webhooks_step`, from the package's SQL),
 * which sets the tenant itself: sent on its own it is its own transaction, one round trip for a
 * busy tenant's whole batch.
 */
export async function recordDeliveredAndClaim(
  client: SqlClient,
  tenantId: string,
  attempts: readonly DeliveredAttempt[],
  claim: ClaimWindow | null,
): Promise<ClaimedRow[]> {
  return client.$queryRawUnsafe<ClaimedRow[]>(
    `SELECT * FROM acme_webhooks_step($1::uuid, $2::uuid[], $3::uuid[], $4::int[], $5::int[],
       $6::int[], $7::text[], $8::text[], $9::timestamptz[], $10::uuid[], $11::timestamptz,
       $12::timestamptz, $13::int)`,
    tenantId,
    attempts.map(() => randomUUID()),
    attempts.map((attempt) => attempt.claimed.deliveryId),
    attempts.map((attempt) => attempt.claimed.attempts),
    attempts.map((attempt) => attempt.result.status),
    attempts.map((attempt) => attempt.result.durationMs),
    attempts.map((attempt) => JSON.stringify(redactHeaders(attempt.result.headers))),
    attempts.map((attempt) => loggedBody(attempt.result.body)),
    attempts.map((attempt) => attempt.at),
    [...new Set(attempts.map((attempt) => attempt.claimed.endpointId))],
    claim?.now ?? null,
    claim?.leaseUntil ?? null,
    claim?.limit ?? 0,
  )
}

/**
 * Disables the endpoint and cancels what it still had pending. Null when it was already off:
 * two of its attempts failing at once must not tell the tenant (event, admins' mail) twice.
 */
async function disableEndpoint(
  tx: SqlClient,
  tenantId: string,
  endpointId: string,
  reason: 'gone' | 'failing',
  now: Date,
): Promise<Disabled | null> {
  const turnedOff = await tx.$queryRawUnsafe<Array<{ id: string }>>(
    `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $3, updated_at = $4
     WHERE tenant_id = $1::uuid AND id = $2::uuid AND enabled RETURNING id`,
    tenantId,
    endpointId,
    reason,
    now,
  )
  await tx.$queryRawUnsafe(
    `UPDATE webhook_deliveries SET status = 'cancelled', lease_until = NULL, updated_at = $3
     WHERE tenant_id = $1::uuid AND endpoint_id = $2::uuid AND status = 'pending' RETURNING id`,
    tenantId,
    endpointId,
    now,
  )
  return turnedOff.length > 0 ? { tenantId, endpointId, reason } : null
}

function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    kept[name] = REDACTED_HEADERS.has(name) ? '[REDACTED]' : value.slice(0, 512)
  }
  return kept
}

// PostgreSQL text cannot hold NUL.
const loggedBody = (body: string) => body.replaceAll('\u0000', '').slice(0, RESPONSE_BODY_BYTES)
