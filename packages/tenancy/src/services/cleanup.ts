import { deleteInBatches } from '@acme/core'
import type { TenantService } from './tenants.js'

export interface InvitationCleanupOptions {
  /** Only `run`: `app.tenancy.tenants` will do. */
  tenants: Pick<TenantService, 'run'>
  now: () => Date
  /** Days an invitation is kept once it lapsed (at least 1). */
  retentionDays: number
  /** Rows per DELETE statement. */
  batchSize: number
  /** Tenants read per page while walking them all. */
  tenantPageSize?: number
}

/** What one run did. */
export interface InvitationCleanupReport {
  /** Tenants visited. */
  tenants: number
  /** Invitations deleted. */
  invitations: number
}

const DAY_MS = 86_400_000

/**
 * Deletes invitations that lapsed (expired, accepted or revoked) longer ago than the retention.
 * Invitations are under forced row-level security and the app's role cannot bypass it (the doctor
 * refuses one that can), so a job with no request tenant sees none of them: like every other
 * query of this package it runs in `tenants.run({ tenantId })`, one tenant at a time. The tenant
 * list itself (the `tenants` table is not tenant-scoped) is walked by id in pages. Each batch is
 * one short transaction that sets the tenant and deletes at most `batchSize` rows, skipping rows
 * a request holds locked.
 */
export class InvitationCleanup {
  readonly #options: InvitationCleanupOptions

  constructor(options: InvitationCleanupOptions) {
    this.#options = options
  }

  async run(): Promise<InvitationCleanupReport> {
    const { tenants, retentionDays } = this.#options
    const pageSize = this.#options.tenantPageSize ?? 500
    // One "now" per run, as a UTC timestamp (Prisma stores DateTime as UTC in `timestamp(3)`).
    const lapsedBefore = new Date(this.#options.now().getTime() - retentionDays * DAY_MS)
    const report: InvitationCleanupReport = { tenants: 0, invitations: 0 }
    let after: string | null = null
    for (;;) {
      const cursor: string | null = after
      const page: Array<{ id: string }> = await tenants.run({ tenantId: '' }, (tx) =>
        tx.tenant.findMany({
          where: cursor === null ? {} : { id: { gt: cursor } },
          orderBy: { id: 'asc' },
          take: pageSize,
          select: { id: true },
        }),
      )
      for (const { id } of page) {
        report.invitations += await this.#cleanTenant(id, lapsedBefore.toISOString())
      }
      report.tenants += page.length
      const last = page.at(-1)
      if (page.length < pageSize || !last) return report
      after = last.id
    }
  }

  #cleanTenant(tenantId: string, lapsedBefore: string): Promise<number> {
    const { tenants, batchSize } = this.#options
    return deleteInBatches(batchSize, (limit) =>
      tenants.run({ tenantId }, (tx) =>
        tx.$executeRawUnsafe(
          `DELETE FROM "invitations" WHERE "id" IN (
             SELECT "id" FROM "invitations"
             WHERE "tenant_id" = $1::uuid
               AND ("expires_at" < ($2::timestamptz AT TIME ZONE 'UTC')
                    OR "accepted_at" < ($2::timestamptz AT TIME ZONE 'UTC')
                    OR "revoked_at" < ($2::timestamptz AT TIME ZONE 'UTC'))
             LIMIT $3::int
             FOR UPDATE SKIP LOCKED)`,
          tenantId,
          lapsedBefore,
          limit,
        ),
      ),
    )
  }
}
