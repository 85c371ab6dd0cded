import type { CounterStore } from '@acme/core'

/**
 * The per-tenant cap on attempts in flight (`delivery.perTenantConcurrency`), across every
 * worker of every instance: core's expiring leases, one sorted set per tenant in Redis (in
 * memory without Redis). Taking or checking a slot is one round trip, whatever the tenant's
 * backlog; a worker killed while holding a slot frees it when its lease runs out (`ttlMs` after
 * it was taken, by the webhooks clock), so a crash cannot shrink a tenant's share for good.
 */
export class TenantSlots {
  readonly #counters: CounterStore
  readonly #limit: number
  readonly #ttlMs: number

  constructor(counters: CounterStore, limit: number, ttlMs: number) {
    this.#counters = counters
    this.#limit = limit
    this.#ttlMs = ttlMs
  }

  /** Takes a slot for `holder`; false when the tenant is at its cap. */
  async take(tenantId: string, holder: string): Promise<boolean> {
    const decision = await this.#counters.lease(key(tenantId), holder, {
      limit: this.#limit,
      ttlMs: this.#ttlMs,
    })
    return decision.acquired
  }

  async give(tenantId: string, holder: string): Promise<void> {
    await this.#counters.release(key(tenantId), holder)
  }
}

// The tenant in a hash tag: on Redis Cluster one tenant's lease is one key in one slot.
const key = (tenantId: string) => `webhooks:inflight:{${tenantId}}`
