import type { SqlClient } from '../sql.js'

export interface LinkerOptions {
  /** `app.prisma`: each call of the link function is a transaction of its own. */
  db: SqlClient
  /** Entries linked per call of the link function (one transaction each). */
  batchSize: number
  /** How often every chain with unlinked entries is looked for, in ms (0: never). */
  sweepMs: number
  /**
   * How long a request to link waits for others to join it, in ms: one pass then links the
   * entries of many requests, so linking costs a few statements a second, not one per request.
   */
  delayMs: number
  /** Where a failed link is reported; it never reaches a request. */
  onError: (error: unknown, tenantId: string | null) => void
}

/**
 * Gives committed entries their place in their chain, shortly after they commit, so recording
 * never waits on a lock: `acme_audit_link` (SQL, as the tables' owner) locks the chain's head,
 * numbers the chain's unlinked committed entries in recording order and hashes each onto the
 * tip. One linker per chain runs at a time (the head's row lock), across instances too.
 *
 * `soon(tenant)` is called once an entry is known to be committed (after the response of the
 * request that recorded it, after a background write); requests to link coalesce for `delayMs`
 * and while a pass runs. The sweep finds what those miss: entries of a job's own transaction, of an
 * instance that stopped before linking them.
 */
export class Linker {
  readonly #options: LinkerOptions
  readonly #dirty = new Set<string | null>()
  #running: Promise<void> | null = null
  #timer: NodeJS.Timeout | null = null
  #sweep: NodeJS.Timeout | null = null
  #closed = false

  constructor(options: LinkerOptions) {
    this.#options = options
  }

  /** Links every committed entry of the chain now; the number linked. */
  async link(tenantId: string | null): Promise<number> {
    const { db, batchSize } = this.#options
    let linked = 0
    for (;;) {
      const rows = await db.$queryRawUnsafe<Array<{ linked: number }>>(
        'SELECT acme_audit_link($1::uuid, $2::int) AS "linked"',
        tenantId,
        batchSize,
      )
      const count = Number(rows[0]?.linked ?? 0)
      linked += count
      if (count < batchSize) return linked
    }
  }

  /** Links every chain holding unlinked entries; the number linked. */
  async linkPending(): Promise<number> {
    let linked = 0
    for (;;) {
      const chains = await this.#options.db.$queryRawUnsafe<Array<{ tenantId: string | null }>>(
        'SELECT "tenant_id"::text AS "tenantId" FROM acme_audit_pending_chains($1::int)',
        100,
      )
      let round = 0
      for (const chain of chains) round += await this.link(chain.tenantId)
      linked += round
      // Entries still uncommitted stay pending: the next sweep takes them.
      if (chains.length < 100 || round === 0) return linked
    }
  }

  /** Asks for the chain to be linked in the background, soon. */
  soon(tenantId: string | null): void {
    if (this.#closed) return
    this.#dirty.add(tenantId)
    this.#schedule()
  }

  /** Starts the sweep timer (not holding the process open). */
  start(): void {
    if (this.#options.sweepMs <= 0 || this.#sweep) return
    this.#sweep = setInterval(() => {
      if (this.#running) return
      this.#run(() =>
        this.linkPending().then(
          () => undefined,
          (error: unknown) => this.#options.onError(error, null),
        ),
      )
    }, this.#options.sweepMs)
    this.#sweep.unref()
  }

  /** Stops the sweep and waits for the pass running, after a last one for chains asked for. */
  async close(): Promise<void> {
    this.#closed = true
    if (this.#sweep) clearInterval(this.#sweep)
    this.#sweep = null
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    while (this.#running) await this.#running
    if (this.#dirty.size > 0) await this.#drain()
  }

  /** One pass at a time, `delayMs` after it is asked for; chains asked for meanwhile wait for the next. */
  #schedule(): void {
    if (this.#closed || this.#timer || this.#running || this.#dirty.size === 0) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      if (!this.#running) this.#run(() => this.#drain())
    }, this.#options.delayMs)
  }

  #run(pass: () => Promise<void>): void {
    this.#running = pass().finally(() => {
      this.#running = null
      this.#schedule()
    })
  }

  async #drain(): Promise<void> {
    while (this.#dirty.size > 0) {
      const chains = [...this.#dirty]
      this.#dirty.clear()
      for (const tenantId of chains) {
        try {
          await this.link(tenantId)
        } catch (error) {
          this.#options.onError(error, tenantId)
        }
      }
    }
  }
}
