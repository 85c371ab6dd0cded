import type { Clock } from '@acme/core'
import { inTenant, type SqlClient, type TransactionalClient } from '../sql.js'
import { type Claimed, type ClaimedRow, claimDeliveries } from './claim.js'
import type { DeliveryFailure, PostResult } from './http.js'
import {
  type AttemptOutcome,
  type DeliveredAttempt,
  type Disabled,
  isDelivered,
  type RecordSettings,
  recordAttempt,
  recordDelivered,
  recordDeliveredAndClaim,
} from './record.js'

/** What became of an attempt: a POST to record, or settled without one (cancelled, skipped). */
export type AttemptResponse =
  | { kind: 'posted'; result: PostResult | null; failure: DeliveryFailure | null }
  | { kind: 'settled'; outcome: AttemptOutcome }

/** What a run hands in after an attempt. */
export interface Step {
  claimed: Claimed
  response: AttemptResponse
  /** When the attempt ended, by the webhooks clock. */
  at: Date
  /** The run goes on: it gets the tenant's oldest due delivery, if one is left. */
  wantsNext: boolean
}

export interface StepResult {
  outcome: AttemptOutcome
  /** For the run to announce: the transaction has committed. */
  disabled: Disabled | null
  next: ClaimedRow | null
}

export interface StepBatcherDeps {
  prisma: TransactionalClient
  clock: Clock
  settings: RecordSettings
  /** How long a claim is the worker's (the timeout plus a margin). */
  leaseMs: number
}

interface Waiting {
  step: Step
  resolve(result: StepResult): void
  reject(error: unknown): void
}

/**
 * Records the attempts of a tenant's runs and claims their next deliveries together (group
 * commit): while one batch of the tenant is writing, the steps of its other runs queue, and the
 * next batch records all of them and claims the next deliveries of all of them. When every
 * attempt of a batch was delivered (the common case), the batch is one statement, its own
 * transaction: one round trip. A lone run waits for nothing; a busy tenant pays one round trip
 * per batch rather than a transaction per attempt. The runs, their slots and their leases are
 * unchanged: only the writes are shared.
 */
export class StepBatcher {
  readonly #deps: StepBatcherDeps
  /** Steps waiting for the tenant's next transaction; a tenant is here while one is writing. */
  readonly #queued = new Map<string, Waiting[]>()

  constructor(deps: StepBatcherDeps) {
    this.#deps = deps
  }

  submit(tenantId: string, step: Step): Promise<StepResult> {
    return new Promise<StepResult>((resolve, reject) => {
      const waiting = { step, resolve, reject }
      const queued = this.#queued.get(tenantId)
      if (queued) {
        queued.push(waiting)
        return
      }
      this.#queued.set(tenantId, [waiting])
      void this.#drain(tenantId)
    })
  }

  async #drain(tenantId: string): Promise<void> {
    for (;;) {
      const batch = this.#queued.get(tenantId) ?? []
      if (batch.length === 0) {
        this.#queued.delete(tenantId)
        return
      }
      this.#queued.set(tenantId, [])
      await this.#settle(tenantId, batch)
    }
  }

  async #settle(tenantId: string, batch: Waiting[]): Promise<void> {
    try {
      const results = await this.#write(
        tenantId,
        batch.map((waiting) => waiting.step),
      )
      for (const [index, waiting] of batch.entries()) waiting.resolve(results[index] as StepResult)
      return
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error)
        return
      }
    }
    // The batch rolled back as a whole: each step again on its own, so one that cannot be
    // written fails its own run only.
    for (const waiting of batch) {
      try {
        const [result] = await this.#write(tenantId, [waiting.step])
        waiting.resolve(result as StepResult)
      } catch (error) {
        waiting.reject(error)
      }
    }
  }

  /**
   * A batch of delivered (or settled) attempts, the common case, is one statement that records
   * and claims in its own transaction; a batch with a failure records it in a transaction of its
   * own statements, as the retry and the endpoint's state need.
   */
  async #write(tenantId: string, steps: readonly Step[]): Promise<StepResult[]> {
    const { prisma, clock, leaseMs } = this.#deps
    const delivered: DeliveredAttempt[] = []
    let failed = false
    for (const step of steps) {
      if (step.response.kind !== 'posted') continue
      const { result } = step.response
      if (result && isDelivered(result))
        delivered.push({ claimed: step.claimed, result, at: step.at })
      else failed = true
    }
    const now = clock()
    const claim = {
      now,
      leaseUntil: new Date(now.getTime() + leaseMs),
      limit: steps.filter((step) => step.wantsNext).length,
    }
    if (!failed) {
      const next = await recordDeliveredAndClaim(prisma, tenantId, delivered, claim)
      return handOut(
        steps,
        steps.map((step) => ({
          outcome: step.response.kind === 'settled' ? step.response.outcome : 'delivered',
          disabled: null,
          next: null,
        })),
        next,
      )
    }
    return inTenant(prisma, tenantId, async (tx: SqlClient) => {
      // Delivered first: an endpoint another attempt disables in this batch cancels only what
      // it still has pending.
      await recordDelivered(tx, tenantId, delivered)
      const results: StepResult[] = []
      for (const step of steps) {
        const { response } = step
        if (response.kind === 'settled') {
          results.push({ outcome: response.outcome, disabled: null, next: null })
        } else if (isDelivered(response.result)) {
          results.push({ outcome: 'delivered', disabled: null, next: null })
        } else {
          const recorded = await recordAttempt(
            tx,
            tenantId,
            step.claimed,
            response,
            step.at,
            this.#deps.settings,
          )
          results.push({ ...recorded, next: null })
        }
      }
      return handOut(steps, results, await claimDeliveries(tx, tenantId, null, claim))
    })
  }
}

/** Gives the claimed deliveries, oldest due first, to the steps that want one, in their order. */
function handOut(
  steps: readonly Step[],
  results: StepResult[],
  claimed: ClaimedRow[],
): StepResult[] {
  steps.forEach((step, index) => {
    const result = results[index]
    if (step.wantsNext && result) result.next = claimed.shift() ?? null
  })
  return results
}
