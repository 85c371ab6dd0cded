import { createHash, randomBytes } from 'node:crypto'
import { TenancyErrors } from '../errors.js'
import { applyTenantSettings } from '../tenant-transaction.js'
import { lockSeats, seatsInUse } from './seats.js'
import type { TenantService } from './tenants.js'

export interface InvitationRecord {
  id: string
  email: string
  roles: string[]
  invitedById: string | null
  expiresAt: Date
  createdAt: Date
}

export interface InvitationServiceOptions {
  tenants: TenantService
  ttlSeconds: number
  /** Seats of a tenant's plan (null: unlimited). */
  seatsOf: (tenantId: string) => Promise<number | null>
  now?: () => Date
}

const hashToken = (token: string) => createHash('sha256').update(token).digest('hex')

const invitationColumns = {
  id: true,
  email: true,
  roles: true,
  invitedById: true,
  expiresAt: true,
  createdAt: true,
} as const

/**
 * Invitations by email. The token is mailed once and stored as its SHA-256; it is single use,
 * expires, and only the account with the invited address can accept it. Pending invitations
 * count as seats, so a tenant cannot invite past its plan.
 */
export class InvitationService {
  readonly #options: InvitationServiceOptions

  constructor(options: InvitationServiceOptions) {
    this.#options = options
  }

  #now(): Date {
    return this.#options.now?.() ?? new Date()
  }

  async invite(
    tenantId: string,
    input: { email: string; roles: string[] },
    invitedById: string,
  ): Promise<{ token: string; invitation: InvitationRecord }> {
    const email = input.email.trim().toLowerCase()
    const token = randomBytes(32).toString('base64url')
    const now = this.#now()
    const seats = await this.#options.seatsOf(tenantId)
    const invitation = await this.#options.tenants.run({ tenantId }, async (tx) => {
      await lockSeats(tx, tenantId)
      const existingMember = await tx.membership.findFirst({
        where: { tenantId, user: { email } },
        select: { userId: true },
      })
      if (existingMember) throw new TenancyErrors.AlreadyMember()
      // Re-inviting replaces the pending invitation: its old link stops working.
      await tx.invitation.updateMany({
        where: { tenantId, email, acceptedAt: null, revokedAt: null },
        data: { revokedAt: now },
      })
      if (seats !== null && (await seatsInUse(tx, tenantId, now)) >= seats) {
        throw new TenancyErrors.SeatLimit()
      }
      return tx.invitation.create({
        data: {
          tenantId,
          email,
          roles: input.roles,
          tokenHash: hashToken(token),
          invitedById,
          expiresAt: new Date(now.getTime() + this.#options.ttlSeconds * 1_000),
        },
        select: invitationColumns,
      })
    })
    return { token, invitation }
  }

  async listPending(tenantId: string): Promise<InvitationRecord[]> {
    return this.#options.tenants.run({ tenantId }, (tx) =>
      tx.invitation.findMany({
        where: { tenantId, acceptedAt: null, revokedAt: null, expiresAt: { gt: this.#now() } },
        select: invitationColumns,
        orderBy: { createdAt: 'asc' },
      }),
    )
  }

  async revoke(tenantId: string, invitationId: string): Promise<void> {
    const { count } = await this.#options.tenants.run({ tenantId }, (tx) =>
      tx.invitation.updateMany({
        where: { id: invitationId, tenantId, acceptedAt: null, revokedAt: null },
        data: { revokedAt: this.#now() },
      }),
    )
    if (count === 0) throw new TenancyErrors.NotFound()
  }

  /** Makes the caller a member; the token names the tenant. */
  async accept(
    token: string,
    user: { id: string; email: string },
  ): Promise<{ tenantId: string; roles: string[]; invitationId: string }> {
    const tokenHash = hashToken(token)
    const now = this.#now()
    // No tenant yet: the invitation policy shows exactly the row this token names.
    const result = await this.#options.tenants.run(
      { tenantId: '', userId: user.id, invitationTokenHash: tokenHash },
      async (tx) => {
        const invitation = await tx.invitation.findUnique({
          where: { tokenHash },
          select: {
            id: true,
            tenantId: true,
            email: true,
            roles: true,
            expiresAt: true,
            acceptedAt: true,
            revokedAt: true,
          },
        })
        const usable =
          invitation !== null &&
          invitation.acceptedAt === null &&
          invitation.revokedAt === null &&
          invitation.expiresAt > now
        if (!usable || !invitation) throw new TenancyErrors.InvitationInvalid()
        if (invitation.email !== user.email.toLowerCase()) {
          throw new TenancyErrors.InvitationEmailMismatch()
        }
        await applyTenantSettings(tx, { tenantId: invitation.tenantId, userId: user.id })
        const claimed = await tx.invitation.updateMany({
          where: { id: invitation.id, acceptedAt: null, revokedAt: null },
          data: { acceptedAt: now },
        })
        if (claimed.count === 0) throw new TenancyErrors.InvitationInvalid()
        const existing = await tx.membership.findUnique({
          where: { tenantId_userId: { tenantId: invitation.tenantId, userId: user.id } },
          select: { roles: true },
        })
        const accepted = { tenantId: invitation.tenantId, invitationId: invitation.id }
        if (existing) return { ...accepted, roles: existing.roles }
        await tx.membership.create({
          data: { tenantId: invitation.tenantId, userId: user.id, roles: invitation.roles },
        })
        return { ...accepted, roles: invitation.roles }
      },
    )
    return result
  }
}
