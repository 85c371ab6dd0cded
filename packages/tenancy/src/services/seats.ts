import type { TenancyTx } from '../db.js'

/** Members plus pending invitations. */
export async function seatsInUse(tx: TenancyTx, tenantId: string, now: Date): Promise<number> {
  const [members, pending] = await Promise.all([
    tx.membership.count({ where: { tenantId } }),
    tx.invitation.count({
      where: { tenantId, acceptedAt: null, revokedAt: null, expiresAt: { gt: now } },
    }),
  ])
  return members + pending
}

/** Serialises seat-consuming changes of one tenant, so two invitations cannot share a last seat. */
export async function lockSeats(tx: TenancyTx, tenantId: string): Promise<void> {
  await tx.$executeRawUnsafe('SELECT pg_advisory_xact_lock(hashtext($1))', `acme-seats:${tenantId}`)
}
