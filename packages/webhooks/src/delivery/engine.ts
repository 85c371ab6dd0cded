import { randomUUID } from 'node:crypto'
import { type Clock, RLS_SETTINGS } from '@acme/core'
import { endpointWants } from '../event-types.js'
import type { SecretVault } from '../services/secrets.js'
import { inTenant, type SqlClient, type TransactionalClient } from '../sql.js'
import type { GuardSettings } from '../ssrf/guard.js'
import { type Claim, type ClaimedRow, claimDeliveries, signClaim } from './claim.js'
import { DeliveryFailure, postWebhook } from './http.js'
import { type AttemptOutcome, RESPONSE_BODY_BYTES } from './record.js'
import { type AttemptResponse, StepBatcher } from './step-batcher.js'
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

export type { AttemptOutcome } from './record.js'

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

/** A claimed attempt is the worker's for the timeout plus this; after a crash another takes it. */
export const LEASE_MARGIN_MS = 60_000

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
  readonly #steps: StepBatcher
  #stopping = false

  constructor(deps: EngineDeps) {
    this.#deps = deps
    this.#steps = new StepBatcher({
      prisma: deps.prisma,
      clock: deps.clock,
      settings: deps.settings,
      leaseMs: deps.settings.timeoutMs + LEASE_MARGIN_MS,
    })
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
   * finds every slot taken does nothing: the runs holding them take its delivery in turn, so one
   * tenant's burst flows at its cap without waiting for the sweeper, and its queued jobs cost
   * one Redis round trip each. Each attempt's record and the next claim share one transaction,
   * with those of the tenant's other runs in this process (`StepBatcher`).
   * A run that ends with deliveries still due (that a job capped meanwhile left to it) hands
   * them to a job of its own.
   */
  async run(tenantId: string, deliveryId: string): Promise<RunReport> {
    const { prisma, clock, slots } = this.#deps
    const holder = randomUUID()
    if (!(await slots.take(tenantId, holder))) return { capped: true, outcomes: [] }
    const outcomes: AttemptOutcome[] = []
    const started = performance.now()
    try {
      let row = await inTenant(prisma, tenantId, async (tx) => {
        // That delivery may be done, held by another run or not due: then the tenant's next.
        return (
          (await this.#claim(tx, tenantId, deliveryId)) ?? (await this.#claim(tx, tenantId, null))
        )
      })
      while (row) {
        const current = signClaim(row, clock(), this.#deps.vault)
        const response = await this.#post(tenantId, current)
        // A run ends within its budget plus one attempt, well inside its slot's lease
        // (`timeoutMs` + 60 s): the lease needs no renewal, and a killed run's slot comes back.
        const goOn =
          !this.#stopping &&
          outcomes.length + 1 < RUN_BUDGET.attempts &&
          performance.now() - started < RUN_BUDGET.ms
        // Recorded with the tenant's other runs' attempts, and the next claimed with theirs.
        const step = await this.#steps.submit(tenantId, {
          claimed: current.claimed,
          response,
          at: clock(),
          wantsNext: goOn,
        })
        outcomes.push(step.outcome)
        if (step.disabled) await this.#deps.onDisabled(step.disabled)
        row = step.next
      }
    } finally {
      await slots.give(tenantId, holder)
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

  async #claim(
    tx: SqlClient,
    tenantId: string,
    deliveryId: string | null,
  ): Promise<ClaimedRow | null> {
    const now = this.#deps.clock()
    const leaseUntil = new Date(now.getTime() + this.#deps.settings.timeoutMs + LEASE_MARGIN_MS)
    const [row] = await claimDeliveries(tx, tenantId, deliveryId, { now, leaseUntil, limit: 1 })
    return row ?? null
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
   * The attempt of a claimed delivery, with no transaction open: the POST, or, with its endpoint
   * disabled, its cancellation, or, over the endpoint's own rate, the claim given back. Only a
   * POST's outcome is left to record.
   */
  async #post(tenantId: string, { claimed, request }: Claim): Promise<AttemptResponse> {
    const { prisma, clock, settings } = this.#deps
    if (!request) {
      await inTenant(prisma, tenantId, async (tx) =>
        tx.$queryRawUnsafe(
          `UPDATE webhook_deliveries SET status = 'cancelled', lease_until = NULL, updated_at = $3
           WHERE tenant_id = $1::uuid AND id = $2::uuid RETURNING id`,
          tenantId,
          claimed.deliveryId,
          clock(),
        ),
      )
      return { kind: 'settled', outcome: 'cancelled' }
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
            claimed.deliveryId,
            new Date(clock().getTime() + Math.ceil(waitMs)),
          ),
        )
        return { kind: 'settled', outcome: 'skipped' }
      }
    }
    try {
      const result = await postWebhook({
        url: request.url,
        headers: request.headers,
        body: request.body,
        timeoutMs: settings.timeoutMs,
        maxBodyBytes: RESPONSE_BODY_BYTES,
        guard: this.#deps.guard,
      })
      return { kind: 'posted', result, failure: null }
    } catch (error) {
      if (!(error instanceof DeliveryFailure)) throw error
      return { kind: 'posted', result: null, failure: error }
    }
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
