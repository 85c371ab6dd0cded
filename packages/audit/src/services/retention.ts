import { type Clock, deleteInBatches } from '@acme/core'
import { inTenant, type SqlClient, type TransactionalClient } from '../sql.js'
import { type CheckpointSigner, insertCheckpoint, latestCheckpoint } from './checkpoints.js'

const DAY_MS = 86_400_000

export interface RetentionOptions {
  prisma: TransactionalClient
  signer: CheckpointSigner
  now: Clock
  /** Links the chain's committed entries (the linker's), so none outlives retention unlinked. */
  link: (tenantId: string | null) => Promise<number>
  /** Links every chain with unlinked entries: a chain's first entries make its head. */
  linkPending: () => Promise<number>
  /** Days a tenant's entries are kept (its plan's), or null for the default. */
  daysFor: (tenantId: string) => Promise<number | null>
  defaultDays: number
  batchSize: number
  /** Chains read per page while walking them all. */
  chainPageSize?: number
}

export interface RetentionReport {
  chains: number
  deleted: number
}

/**
 * Deletes each chain's entries older than its retention: first a signed checkpoint naming the
 * newest entry to go (its seq and hash, which the next entry links to), then bounded DELETEs
 * through `acme_audit_purge`, which runs as the tables' owner and removes nothing past the
 * checkpoint. The chain then verifies from the checkpoint on. Idempotent: a run that stopped
 * midway is finished by the next.
 */
export class Retention {
  readonly #options: RetentionOptions

  constructor(options: RetentionOptions) {
    this.#options = options
  }

  async run(): Promise<RetentionReport> {
    const { prisma } = this.#options
    const pageSize = this.#options.chainPageSize ?? 500
    const now = this.#options.now()
    const report: RetentionReport = { chains: 0, deleted: 0 }
    await this.#options.linkPending()
    let after = ''
    for (;;) {
      // The app's role cannot list other tenants' heads: the owner's function does.
      const page = await inTenant(prisma, null, (tx) =>
        tx.$queryRawUnsafe<Array<{ chainKey: string; tenantId: string | null }>>(
          `SELECT "chain_key" AS "chainKey", "tenant_id"::text AS "tenantId"
           FROM acme_audit_chains($1::text, $2::int)`,
          after,
          pageSize,
        ),
      )
      for (const chain of page) {
        report.deleted += await this.#purgeChain(chain.tenantId, now)
      }
      report.chains += page.length
      const last = page.at(-1)
      if (page.length < pageSize || !last) return report
      after = last.chainKey
    }
  }

  async #purgeChain(tenantId: string | null, now: Date): Promise<number> {
    const { prisma, signer, batchSize } = this.#options
    const days =
      (tenantId === null ? null : await this.#options.daysFor(tenantId)) ??
      this.#options.defaultDays
    const cutoff = new Date(now.getTime() - days * DAY_MS)
    await this.#options.link(tenantId)
    await inTenant(prisma, tenantId, async (tx) => {
      const newest = await newestBefore(tx, tenantId, cutoff)
      if (!newest) return
      const current = await latestCheckpoint(tx, tenantId)
      if (current && current.seq >= newest.seq) return
      await insertCheckpoint(
        tx,
        signer.sign({ tenantId, seq: newest.seq, hash: newest.hash, prunedAt: now.toISOString() }),
      )
    })
    return deleteInBatches(batchSize, (limit) =>
      inTenant(prisma, tenantId, async (tx) => {
        const rows = await tx.$queryRawUnsafe<Array<{ deleted: number }>>(
          'SELECT acme_audit_purge($1::uuid, $2::int) AS "deleted"',
          tenantId,
          limit,
        )
        return Number(rows[0]?.deleted ?? 0)
      }),
    )
  }
}

/** The newest linked entry recorded before `cutoff`: everything up to it goes. */
async function newestBefore(
  db: SqlClient,
  tenantId: string | null,
  cutoff: Date,
): Promise<{ seq: number; hash: string } | null> {
  const rows = await db.$queryRawUnsafe<Array<{ seq: number; hash: string }>>(
    `SELECT "seq", "hash" FROM "audit_events"
     WHERE ${tenantId === null ? '"tenant_id" IS NULL AND $1::uuid IS NULL' : '"tenant_id" = $1::uuid'}
       AND "occurred_at" < $2::timestamptz AND "seq" IS NOT NULL
     ORDER BY "seq" DESC LIMIT 1`,
    tenantId,
    cutoff.toISOString(),
  )
  const row = rows[0]
  return row ? { seq: Number(row.seq), hash: row.hash } : null
}
