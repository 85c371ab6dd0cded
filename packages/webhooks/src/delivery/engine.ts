import { randomUUID } from 'node:crypto'
import { type Clock, RLS_SETTINGS } from '@acme/core'
import { endpointWants } from '../event-types.js'
import type { SecretVault } from '../services/secrets.js'
import { signedHeaders } from '../services/secrets.js'
import { inTenant, type SqlClient, type TransactionalClient } from '../sql.js'
import type { GuardSettings } from '../ssrf/guard.js'
import { DeliveryFailure, type PostResult, postWebhook } from './http.js'
import { nextAttemptAt, parseRetryAfter } from './schedule.js'
import type { TenantSlots } from './tenant-slots.js'

export interface EngineSettings {
  retryScheduleSeconds: readonly number[]
  timeoutMs: number
  disableAfterFailingSeconds: number
  /** How many outbox rows and due deliveries one sweep picks up. */
  sweepBatch: number
  /** Attempts of one tenant in flight at once, across every worker (fairness). */
  perTenantConcurrency: number
}

export interface EngineDeps {
  prisma: TransactionalClient
  clock: Clock
  vault: SecretVault
  guard: GuardSettings
  settings: EngineSettings
  /** The per-tenant cap on attempts in flight, across workers (expiring leases). */
  slots: TenantSlots
  /** Queues one attempt of a delivery (core's jobs). */
  enqueueAttempt(
    job: { tenantId: string; deliveryId: string },
    options: { jobId: string },
  ): Promise<void>
  /** Queues the relay of committed outbox rows (core's jobs). */
  enqueueRelay(job: { tenantId: string; messageIds: string[] }): Promise<void>
  /**
   * Takes one request from the endpoint's own rate (`rateLimitPerSecond`, core's counters);
   * answers 0 when allowed, else the ms until it would be.
   */
  takeRate(endpointId: string, perSecond: number): Promise<number>
  /** Told when an endpoint is disabled by a 410 or by failing too long. */
  onDisabled(event: {
    tenantId: string
    endpointId: string
    reason: 'gone' | 'failing'
  }): Promise<void>
}

/** What one attempt came to; `skipped` when the endpoint's own rate put it off. */
export type AttemptOutcome = 'skipped' | 'delivered' | 'retrying' | 'failed' | 'gone' | 'cancelled'

/** What one run did: `capped` when the tenant had every slot taken (nothing was attempted). */
export interface RunReport {
  capped: boolean
  outcomes: AttemptOutcome[]
}

/**
 * A run hands over to a queued job after this many attempts or this long: shutdown waits for a
 * run's current attempt only, and other jobs of the queue interleave with a long burst.
 */
const RUN_BUDGET = { attempts: 200, ms: 10_000 }

const RESPONSE_BODY_BYTES = 4_096
// Response headers that may carry credentials of the receiver's own systems are not logged.
const REDACTED_HEADERS = new Set([
  'set-cookie',
  'authorization',
  'www-authenticate',
  'proxy-authenticate',
])
/** A claimed attempt is the worker's for the timeout plus this; after a crash another takes it. */
export const LEASE_MARGIN_MS = 60_000

interface Claimed {
  deliveryId: string
  attempts: number
  messageId: string
  endpointId: string
}

interface SignedRequest {
  url: string
  rateLimit: number | null
  body: string
  headers: Record<string, string>
}

/**
 * The delivery engine: relays committed outbox rows into deliveries (one per matching enabled
 * endpoint), makes attempts, and records them. A failed attempt stores when the next one is due
 * (`next_attempt_at`, by the injected clock); the sweeper queues due deliveries, so the retry
 * schedule follows the clock and no job waits on a real-time delay. Every step is idempotent and driven by the rows,
 * so a job run twice, late, or after a crash does no harm: an attempt first claims its delivery
 * (due by the injected clock, not leased), and only then calls the receiver.
 */
export class DeliveryEngine {
  readonly #deps: EngineDeps
  #stopping = false

  constructor(deps: EngineDeps) {
    this.#deps = deps
  }

  /** Fans committed outbox rows out into deliveries, then queues their first attempts. */
  async relay(tenantId: string, messageIds: readonly string[]): Promise<string[]> {
    const now = this.#deps.clock()
    const deliveryIds = await inTenant(this.#deps.prisma, tenantId, async (tx) => {
      const messages = await tx.$queryRawUnsafe<Array<{ id: string; eventType: string }>>(
        `SELECT id, event_type AS "eventType" FROM webhook_messages
         WHERE tenant_id = $1::uuid AND id = ANY($2::text[]) AND relayed_at IS NULL
         FOR UPDATE SKIP LOCKED`,
        tenantId,
        messageIds,
      )
      if (messages.length === 0) return []
      const endpoints = await tx.$queryRawUnsafe<Array<{ id: string; eventTypes: string[] }>>(
        `SELECT id, event_types AS "eventTypes" FROM webhook_endpoints
         WHERE tenant_id = $1::uuid AND enabled`,
        tenantId,
      )
      const pairs = messages.flatMap((message) =>
        endpoints
          .filter((endpoint) => endpointWants(endpoint.eventTypes, message.eventType))
          .map((endpoint) => ({
            id: randomUUID(),
            messageId: message.id,
            endpointId: endpoint.id,
          })),
      )
      let created: Array<{ id: string }> = []
      if (pairs.length > 0) {
        created = await tx.$queryRawUnsafe<Array<{ id: string }>>(
          `INSERT INTO webhook_deliveries
             (id, tenant_id, message_id, endpoint_id, status, attempts, next_attempt_at, created_at, updated_at)
           SELECT d.id, $1::uuid, d.message_id, d.endpoint_id, 'pending', 0, $5, $5, $5
           FROM unnest($2::uuid[], $3::text[], $4::uuid[]) AS d(id, message_id, endpoint_id)
           ON CONFLICT (message_id, endpoint_id) DO NOTHING
           RETURNING id`,
          tenantId,
          pairs.map((pair) => pair.id),
          pairs.map((pair) => pair.messageId),
          pairs.map((pair) => pair.endpointId),
          now,
        )
      }
      await tx.$queryRawUnsafe(
        `UPDATE webhook_messages SET relayed_at = $3
         WHERE tenant_id = $1::uuid AND id = ANY($2::text[]) RETURNING id`,
        tenantId,
        messages.map((message) => message.id),
        now,
      )
      return created.map((row) => row.id)
    })
    // One run per slot the tenant may use: each takes the tenant's due deliveries in turn, so
    // the rest of a large fan-out needs no job of its own (and other tenants' jobs queue behind
    // a handful of jobs, not behind the whole burst).
    for (const deliveryId of deliveryIds.slice(0, this.#deps.settings.perTenantConcurrency)) {
      await this.#deps.enqueueAttempt({ tenantId, deliveryId }, { jobId: `${deliveryId}.1` })
    }
    return deliveryIds
  }

  /**
   * One `webhooks.deliver` job: takes one of the tenant's slots (`perTenantConcurrency`, across
   * every worker), then attempts this delivery and, while the slot is held, whatever else the
   * tenant has due, oldest first, until nothing is due or the run's budget is spent. A job that
   * finds every slot taken does nothing: the runs holding them pull its delivery in turn, so one
   * tenant's burst flows at its cap without waiting for the sweeper, and its queued jobs cost
   * one Redis round trip each. A run that ends leaves nothing due behind without a job: it hands
   * what is still due (that a job capped meanwhile left to it) to a job of its own.
   */
  async run(tenantId: string, deliveryId: string): Promise<RunReport> {
    const holder = randomUUID()
    if (!(await this.#deps.slots.take(tenantId, holder))) return { capped: true, outcomes: [] }
    const outcomes: AttemptOutcome[] = []
    const started = performance.now()
    let next: string | null = deliveryId
    try {
      for (;;) {
        const claim = await this.#claim(tenantId, next)
        if (!claim) {
          // That delivery was done, held by another run or not due: take the tenant's next.
          if (next === null) break
          next = null
          continue
        }
        next = null
        outcomes.push(await this.#attempt(tenantId, claim))
        if (
          this.#stopping ||
          outcomes.length >= RUN_BUDGET.attempts ||
          performance.now() - started >= RUN_BUDGET.ms
        ) {
          break
        }
        // Renewed before each attempt: a long run keeps its slot, a dead one loses it.
        if (!(await this.#deps.slots.take(tenantId, holder))) break
      }
    } finally {
      await this.#deps.slots.give(tenantId, holder)
    }
    // A run that attempted nothing hands nothing over: a delivery it saw due but could not
    // claim (a row another transaction holds) would otherwise bounce between jobs.
    if (!this.#stopping && outcomes.length > 0) await this.#handOver(tenantId, holder)
    return { capped: false, outcomes }
  }

  /** Runs stop after their current attempt (the app is closing): the sweeper resumes the rest. */
  stop(): void {
    this.#stopping = true
  }

  /** Queues a run for the tenant's oldest due delivery, if any is left. */
  async #handOver(tenantId: string, holder: string): Promise<void> {
    const [due] = await inTenant(this.#deps.prisma, tenantId, async (tx) =>
      tx.$queryRawUnsafe<Array<{ id: string }>>(
        `SELECT id FROM webhook_deliveries
         WHERE tenant_id = $1::uuid AND status = 'pending' AND next_attempt_at <= $2
           AND (lease_until IS NULL OR lease_until < $2)
         ORDER BY next_attempt_at LIMIT 1`,
        tenantId,
        this.#deps.clock(),
      ),
    )
    if (due) {
      await this.#deps.enqueueAttempt(
        { tenantId, deliveryId: due.id },
        { jobId: `${due.id}.run.${holder}` },
      )
    }
  }

  /**
   * Claims a delivery (this one, or with `null` the tenant's oldest due one): due by the
   * injected clock and not leased. The lease (`timeoutMs` + a margin) keeps other runs off it
   * while this one calls the receiver; after a crash it runs out and the sweeper queues it again.
   */
  async #claim(
    tenantId: string,
    deliveryId: string | null,
  ): Promise<{ claimed: Claimed; request: SignedRequest | null } | null> {
    const { prisma, clock, settings } = this.#deps
    const claimedAt = clock()
    return inTenant(prisma, tenantId, async (tx) => {
      const rows = await tx.$queryRawUnsafe<Claimed[]>(
        `WITH next AS (
           SELECT id FROM webhook_deliveries
           WHERE tenant_id = $1::uuid AND status = 'pending' AND next_attempt_at <= $2
             AND (lease_until IS NULL OR lease_until < $2)
             ${deliveryId === null ? '' : 'AND id = $4::uuid'}
           ORDER BY next_attempt_at LIMIT 1
           FOR UPDATE SKIP LOCKED
         )
         UPDATE webhook_deliveries d
         SET attempts = d.attempts + 1, lease_until = $3, updated_at = $2
         FROM next WHERE d.id = next.id
         RETURNING d.id AS "deliveryId", d.attempts, d.message_id AS "messageId",
           d.endpoint_id AS "endpointId"`,
        tenantId,
        claimedAt,
        new Date(claimedAt.getTime() + settings.timeoutMs + LEASE_MARGIN_MS),
        ...(deliveryId === null ? [] : [deliveryId]),
      )
      const claimed = rows[0]
      if (!claimed) return null
      return { claimed, request: await this.#request(tx, tenantId, claimed) }
    })
  }

  /** One attempt of a claimed delivery: the POST, with no transaction open, then its record. */
  async #attempt(
    tenantId: string,
    { claimed, request }: { claimed: Claimed; request: SignedRequest | null },
  ): Promise<AttemptOutcome> {
    const { prisma, clock, settings } = this.#deps
    const { deliveryId } = claimed
    if (!request) {
      await inTenant(prisma, tenantId, async (tx) =>
        tx.$queryRawUnsafe(
          `UPDATE webhook_deliveries SET status = 'cancelled', lease_until = NULL, updated_at = $3
           WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING id`,
          tenantId,
          deliveryId,
          clock(),
        ),
      )
      return 'cancelled'
    }

    if (request.rateLimit !== null) {
      const waitMs = await this.#deps.takeRate(claimed.endpointId, request.rateLimit)
      if (waitMs > 0) {
        // Over the endpoint's own rate: the claim is given back, not counted as an attempt, and
        // the delivery is due again when the rate allows.
        await inTenant(prisma, tenantId, async (tx) =>
          tx.$queryRawUnsafe(
            `UPDATE webhook_deliveries SET attempts = attempts - 1, lease_until = NULL,
               next_attempt_at = $3
             WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING id`,
            tenantId,
            deliveryId,
            new Date(clock().getTime() + Math.ceil(waitMs)),
          ),
        )
        return 'skipped'
      }
    }

    let result: PostResult | null = null
    let failure: DeliveryFailure | null = null
    try {
      result = await postWebhook({
        url: request.url,
        headers: request.headers,
        body: request.body,
        timeoutMs: settings.timeoutMs,
        maxBodyBytes: RESPONSE_BODY_BYTES,
        guard: this.#deps.guard,
      })
    } catch (error) {
      if (!(error instanceof DeliveryFailure)) throw error
      failure = error
    }
    return this.#record(tenantId, deliveryId, claimed, result, failure)
  }

  /** The signed request of a claimed delivery, or null when its endpoint is disabled. */
  async #request(tx: SqlClient, tenantId: string, claimed: Claimed): Promise<SignedRequest | null> {
    const [endpoint] = await tx.$queryRawUnsafe<
      Array<{
        url: string
        enabled: boolean
        headers: Record<string, string>
        secret: string
        previousSecret: string | null
        previousSecretUntil: Date | null
        rateLimit: number | null
      }>
    >(
      `SELECT url, enabled, headers, secret, previous_secret AS "previousSecret",
         previous_secret_until AS "previousSecretUntil", rate_limit_per_second AS "rateLimit"
       FROM webhook_endpoints WHERE tenant_id = $1::uuid AND id = $2::uuid`,
      tenantId,
      claimed.endpointId,
    )
    if (!endpoint?.enabled) return null
    const [message] = await tx.$queryRawUnsafe<
      Array<{ eventType: string; payload: unknown; createdAt: Date }>
    >(
      `SELECT event_type AS "eventType", payload, created_at AS "createdAt"
       FROM webhook_messages WHERE tenant_id = $1::uuid AND id = $2`,
      tenantId,
      claimed.messageId,
    )
    if (!message) return null
    const now = this.#deps.clock()
    const secrets = [this.#deps.vault.open(endpoint.secret, claimed.endpointId)]
    if (
      endpoint.previousSecret &&
      endpoint.previousSecretUntil &&
      endpoint.previousSecretUntil > now
    ) {
      secrets.push(this.#deps.vault.open(endpoint.previousSecret, claimed.endpointId))
    }
    // The same body on every attempt: the envelope Standard Webhooks recommends.
    const body = JSON.stringify({
      type: message.eventType,
      timestamp: message.createdAt.toISOString(),
      data: message.payload,
    })
    return {
      url: endpoint.url,
      rateLimit: endpoint.rateLimit,
      body,
      headers: { ...endpoint.headers, ...signedHeaders(secrets, claimed.messageId, now, body) },
    }
  }

  async #record(
    tenantId: string,
    deliveryId: string,
    claimed: Claimed,
    result: PostResult | null,
    failure: DeliveryFailure | null,
  ): Promise<AttemptOutcome> {
    const { prisma, clock, settings } = this.#deps
    const now = clock()
    const status = result?.status ?? null
    let outcome: AttemptOutcome
    let next: Date | null = null
    if (status !== null && status >= 200 && status < 300) outcome = 'delivered'
    else if (status === 410) outcome = 'gone'
    else {
      const retryAfter =
        status === 429 || status === 503
          ? parseRetryAfter(result?.headers['retry-after'], now)
          : null
      next = nextAttemptAt(now, claimed.attempts, settings.retryScheduleSeconds, retryAfter)
      outcome = next ? 'retrying' : 'failed'
    }
    const attemptOutcome =
      outcome === 'delivered'
        ? 'delivered'
        : outcome === 'gone'
          ? 'gone'
          : (failure?.kind ?? 'failed')

    const disabled = await inTenant(prisma, tenantId, async (tx) => {
      await tx.$queryRawUnsafe(
        `INSERT INTO webhook_attempts (id, tenant_id, delivery_id, attempt, status, outcome, error,
           duration_ms, response_headers, response_body, attempted_at)
         VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6, $7, $8, $9::jsonb, $10, $11) RETURNING id`,
        randomUUID(),
        tenantId,
        deliveryId,
        claimed.attempts,
        status,
        attemptOutcome,
        failure
          ? failure.message.slice(0, 500)
          : status !== null && outcome !== 'delivered'
            ? `HTTP ${status}`
            : null,
        result?.durationMs ?? failure?.durationMs ?? 0,
        JSON.stringify(redactHeaders(result?.headers ?? {})),
        // PostgreSQL text cannot hold NUL.
        (result?.body ?? '').replaceAll('\u0000', '').slice(0, RESPONSE_BODY_BYTES),
        now,
      )
      let disabled: { tenantId: string; endpointId: string; reason: 'gone' | 'failing' } | null =
        null
      if (outcome === 'delivered') {
        await tx.$queryRawUnsafe(
          `UPDATE webhook_endpoints SET failing_since = NULL
           WHERE tenant_id = $1::uuid AND id = $2::uuid AND failing_since IS NOT NULL RETURNING id`,
          tenantId,
          claimed.endpointId,
        )
      } else if (outcome === 'gone') {
        disabled = await this.#disable(tx, tenantId, claimed.endpointId, 'gone', now)
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
          disabled = await this.#disable(tx, tenantId, claimed.endpointId, 'failing', now)
        }
      }
      // After the endpoint's other pending deliveries were cancelled: this one failed.
      const finalStatus =
        outcome === 'delivered'
          ? 'delivered'
          : outcome === 'retrying' && !disabled
            ? 'pending'
            : 'failed'
      await tx.$queryRawUnsafe(
        `UPDATE webhook_deliveries
         SET status = $3, next_attempt_at = $4, lease_until = NULL, updated_at = $5
         WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING id`,
        tenantId,
        deliveryId,
        finalStatus,
        finalStatus === 'pending' ? next : null,
        now,
      )
      return disabled
    })
    if (disabled) await this.#deps.onDisabled(disabled)
    return disabled && outcome === 'retrying' ? 'failed' : outcome
  }

  /** Disables the endpoint and cancels what it still had pending. */
  async #disable(
    tx: SqlClient,
    tenantId: string,
    endpointId: string,
    reason: 'gone' | 'failing',
    now: Date,
  ) {
    await tx.$queryRawUnsafe(
      `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $3, updated_at = $4
       WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING id`,
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
    return { tenantId, endpointId, reason }
  }

  /**
   * Finds work a crash or a lost job left behind: committed outbox rows never relayed, and due
   * deliveries nobody holds. Reads ids across tenants under the relay's own policy, then queues
   * the work; the jobs do it in each row's tenant.
   */
  async sweep(): Promise<{ messages: number; deliveries: number }> {
    const { prisma, clock, settings } = this.#deps
    const now = clock()
    const found = await prisma.$transaction(async (tx) => {
      await tx.$queryRawUnsafe(
        `SELECT set_config('${RLS_SETTINGS.webhooksRelay}', 'on', true)::text AS ok`,
      )
      const messages = await tx.$queryRawUnsafe<Array<{ id: string; tenantId: string }>>(
        `SELECT id, tenant_id AS "tenantId" FROM webhook_messages
         WHERE relayed_at IS NULL ORDER BY created_at LIMIT $1`,
        settings.sweepBatch,
      )
      // At most one run per slot of each tenant (a run takes the tenant's other due deliveries
      // in turn), so one tenant's backlog neither fills the batch nor floods the queue.
      const deliveries = await tx.$queryRawUnsafe<
        Array<{ id: string; tenantId: string; attempts: number }>
      >(
        `SELECT id, "tenantId", attempts FROM (
           SELECT id, tenant_id AS "tenantId", attempts, next_attempt_at,
             row_number() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at) AS turn
           FROM webhook_deliveries
           WHERE status = 'pending' AND next_attempt_at <= $1
             AND (lease_until IS NULL OR lease_until < $1)
         ) due WHERE turn <= $3
         ORDER BY next_attempt_at LIMIT $2`,
        now,
        settings.sweepBatch,
        settings.perTenantConcurrency,
      )
      return { messages, deliveries }
    })
    const byTenant = new Map<string, string[]>()
    for (const message of found.messages) {
      const ids = byTenant.get(message.tenantId) ?? []
      ids.push(message.id)
      byTenant.set(message.tenantId, ids)
    }
    for (const [tenantId, messageIds] of byTenant) {
      await this.#deps.enqueueRelay({ tenantId, messageIds })
    }
    for (const delivery of found.deliveries) {
      await this.#deps.enqueueAttempt(
        { tenantId: delivery.tenantId, deliveryId: delivery.id },
        // Its own id: a retry job queued earlier may still wait for its real-time delay.
        // A bucket per minute: a job id BullMQ still keeps (a failed job) cannot block it for good.
        {
          jobId: `${delivery.id}.${delivery.attempts + 1}.swept.${Math.floor(now.getTime() / 60_000)}`,
        },
      )
    }
    return { messages: found.messages.length, deliveries: found.deliveries.length }
  }
}

function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    kept[name] = REDACTED_HEADERS.has(name) ? '[REDACTED]' : value.slice(0, 512)
  }
  return kept
}
