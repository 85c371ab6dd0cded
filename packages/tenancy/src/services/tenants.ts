import { CoreErrors, OWNER_ROLE } from '@acme/core'
import type { TenancyTx } from '../db.js'
import { TenancyErrors } from '../errors.js'
import type {
  TenantSettings,
  TransactionCapable,
  TransactionLimits,
} from '../tenant-transaction.js'
import { applyTenantSettings, runInTenant } from '../tenant-transaction.js'
import type { MembershipInfo, TenantSummary } from './memberships.js'
import { lockSeats, seatsInUse } from './seats.js'

export interface TenantRecord extends TenantSummary {
  settings: Record<string, unknown>
  createdAt: Date
  updatedAt: Date
}

export interface MemberRecord {
  userId: string
  email: string
  name: string | null
  roles: string[]
  joinedAt: Date
}

export interface TenantServiceOptions {
  prisma: TransactionCapable
  limits: TransactionLimits
  defaultPlan: string
  /** The configured plans' names: a tenant is only ever put on one of them. */
  plans: readonly string[]
  /** Called after any change of a tenant or its members, to drop cached memberships. */
  onChange: (tenantId: string, userId?: string) => Promise<void>
  /** The time source invitations expire by, so member adds count pending seats alike. */
  now?: () => Date
}

const tenantColumns = {
  id: true,
  slug: true,
  name: true,
  plan: true,
  status: true,
  settings: true,
  createdAt: true,
  updatedAt: true,
} as const

const memberColumns = {
  userId: true,
  roles: true,
  createdAt: true,
  user: { select: { email: true, name: true } },
} as const

function toMember(row: {
  userId: string
  roles: string[]
  createdAt: Date
  user: { email: string; name: string | null }
}): MemberRecord {
  return {
    userId: row.userId,
    email: row.user.email,
    name: row.user.name,
    roles: row.roles,
    joinedAt: row.createdAt,
  }
}

/** Tenants and their members. Every query runs in a transaction scoped to one tenant. */
export class TenantService {
  readonly #options: TenantServiceOptions

  constructor(options: TenantServiceOptions) {
    this.#options = options
  }

  /** Runs `work` as `tenantId` (and optionally `userId`), for this plugin and its hosts. */
  run<R>(settings: TenantSettings, work: (tx: TenancyTx) => Promise<R>): Promise<R> {
    return runInTenant(this.#options.prisma, settings, this.#options.limits, (tx) =>
      work(tx as unknown as TenancyTx),
    )
  }

  async create(
    input: { name: string; slug: string; plan?: string },
    ownerId: string,
  ): Promise<TenantRecord> {
    if (input.plan !== undefined) this.#assertPlan(input.plan)
    const id = crypto.randomUUID()
    try {
      return await this.run({ tenantId: id, userId: ownerId }, async (tx) => {
        const tenant = await tx.tenant.create({
          data: {
            id,
            name: input.name,
            slug: input.slug,
            plan: input.plan ?? this.#options.defaultPlan,
          },
          select: tenantColumns,
        })
        await tx.membership.create({ data: { tenantId: id, userId: ownerId, roles: [OWNER_ROLE] } })
        return toRecord(tenant)
      })
    } catch (error) {
      if (isUniqueViolation(error)) throw new TenancyErrors.SlugTaken()
      throw error
    }
  }

  /** The tenants `userId` belongs to, with their roles. */
  async listForUser(userId: string): Promise<MembershipInfo[]> {
    // No tenant is set: the memberships policy shows the user's own rows only.
    const rows = await this.run({ tenantId: '', userId }, (tx) =>
      tx.membership.findMany({
        where: { userId },
        select: { roles: true, tenant: { select: tenantColumns } },
        orderBy: { createdAt: 'asc' },
      }),
    )
    return rows.map((row) => ({ tenant: toRecord(row.tenant), roles: row.roles }))
  }

  /** The membership the request resolver caches. */
  async membership(tenantId: string, userId: string): Promise<MembershipInfo | null> {
    const row = await this.run({ tenantId, userId }, (tx) =>
      tx.membership.findUnique({
        where: { tenantId_userId: { tenantId, userId } },
        select: { roles: true, tenant: { select: tenantColumns } },
      }),
    )
    return row ? { tenant: toRecord(row.tenant), roles: row.roles } : null
  }

  async get(tenantId: string): Promise<TenantRecord> {
    const tenant = await this.run({ tenantId }, (tx) =>
      tx.tenant.findUnique({ where: { id: tenantId }, select: tenantColumns }),
    )
    if (!tenant) throw new TenancyErrors.TenantNotFound()
    return toRecord(tenant)
  }

  async update(
    tenantId: string,
    patch: { name?: string; slug?: string; settings?: Record<string, unknown> },
  ): Promise<TenantRecord> {
    try {
      const tenant = await this.run({ tenantId }, (tx) =>
        tx.tenant.update({
          where: { id: tenantId },
          data: {
            ...(patch.name === undefined ? {} : { name: patch.name }),
            ...(patch.slug === undefined ? {} : { slug: patch.slug }),
            ...(patch.settings === undefined ? {} : { settings: patch.settings as object }),
          },
          select: tenantColumns,
        }),
      )
      await this.#options.onChange(tenantId)
      return toRecord(tenant)
    } catch (error) {
      if (isUniqueViolation(error)) throw new TenancyErrors.SlugTaken()
      throw error
    }
  }

  /** A billing integration's typo must fail loudly, not leave the tenant on the default plan. */
  #assertPlan(plan: string): void {
    if (!this.#options.plans.includes(plan)) {
      throw new TypeError(`unknown plan "${plan}": one of ${this.#options.plans.join(', ')}`)
    }
  }

  /** Sets the plan: for billing integrations and the admin plugin, not for tenant members. */
  async setPlan(tenantId: string, plan: string): Promise<void> {
    this.#assertPlan(plan)
    const { count } = await this.run({ tenantId }, (tx) =>
      tx.tenant.updateMany({ where: { id: tenantId }, data: { plan } }),
    )
    if (count === 0) throw new TenancyErrors.TenantNotFound()
    await this.#options.onChange(tenantId)
  }

  /** A tenant deleted meanwhile (two parallel deletes) answers the 404 an unknown id gets. */
  async delete(tenantId: string): Promise<void> {
    const { count } = await this.run({ tenantId }, (tx) =>
      tx.tenant.deleteMany({ where: { id: tenantId } }),
    )
    if (count === 0) throw new TenancyErrors.TenantNotFound()
    await this.#options.onChange(tenantId)
  }

  async listMembers(tenantId: string): Promise<MemberRecord[]> {
    const rows = await this.run({ tenantId }, (tx) =>
      tx.membership.findMany({
        where: { tenantId },
        select: memberColumns,
        orderBy: { createdAt: 'asc' },
      }),
    )
    return rows.map(toMember)
  }

  async setRoles(tenantId: string, userId: string, roles: string[]): Promise<MemberRecord> {
    const updated = await this.run({ tenantId }, async (tx) => {
      await lockMembers(tx, tenantId)
      const member = await tx.membership.findUnique({
        where: { tenantId_userId: { tenantId, userId } },
        select: { roles: true },
      })
      if (!member) throw new TenancyErrors.NotFound()
      if (member.roles.includes(OWNER_ROLE) && !roles.includes(OWNER_ROLE)) {
        await refuseLastOwner(tx, tenantId)
      }
      return tx.membership.update({
        where: { tenantId_userId: { tenantId, userId } },
        data: { roles },
        select: memberColumns,
      })
    })
    await this.#options.onChange(tenantId, userId)
    return toMember(updated)
  }

  async removeMember(tenantId: string, userId: string): Promise<void> {
    await this.run({ tenantId }, async (tx) => {
      await lockMembers(tx, tenantId)
      const member = await tx.membership.findUnique({
        where: { tenantId_userId: { tenantId, userId } },
        select: { roles: true },
      })
      if (!member) throw new TenancyErrors.NotFound()
      if (member.roles.includes(OWNER_ROLE)) await refuseLastOwner(tx, tenantId)
      await tx.membership.delete({ where: { tenantId_userId: { tenantId, userId } } })
    })
    await this.#options.onChange(tenantId, userId)
  }

  /** Adds a member (admin tooling, imports) within the plan's seats; an existing one gets `roles`. */
  async addMember(
    tenantId: string,
    userId: string,
    roles: string[],
    seats: number | null,
  ): Promise<void> {
    await this.run({ tenantId }, async (tx) => {
      await lockSeats(tx, tenantId)
      const where = { tenantId_userId: { tenantId, userId } }
      if (await tx.membership.findUnique({ where, select: { userId: true } })) {
        await tx.membership.update({ where, data: { roles } })
        return
      }
      const now = this.#options.now?.() ?? new Date()
      if (seats !== null && (await seatsInUse(tx, tenantId, now)) >= seats) {
        throw new TenancyErrors.SeatLimit()
      }
      await tx.membership.create({ data: { tenantId, userId, roles } })
    })
    await this.#options.onChange(tenantId, userId)
  }

  async countMembers(tenantId: string): Promise<number> {
    return this.run({ tenantId }, (tx) => tx.membership.count({ where: { tenantId } }))
  }

  /** Re-applies settings mid-transaction, e.g. once an invitation token has named its tenant. */
  static switchTenant(tx: TenancyTx, settings: TenantSettings): Promise<void> {
    return applyTenantSettings(tx, settings)
  }
}

/** Serialises owner changes of one tenant, so two demotions cannot both pass the last-owner check. */
async function lockMembers(tx: TenancyTx, tenantId: string): Promise<void> {
  await tx.$executeRawUnsafe(
    'SELECT pg_advisory_xact_lock(hashtext($1))',
    `acme-members:${tenantId}`,
  )
}

async function refuseLastOwner(tx: TenancyTx, tenantId: string): Promise<void> {
  const owners = await tx.membership.count({ where: { tenantId, roles: { has: OWNER_ROLE } } })
  if (owners <= 1) throw new CoreErrors.LastOwner()
}

function toRecord(row: {
  id: string
  slug: string
  name: string
  plan: string
  status: string
  settings: unknown
  createdAt: Date
  updatedAt: Date
}): TenantRecord {
  return {
    ...row,
    settings:
      typeof row.settings === 'object' && row.settings !== null && !Array.isArray(row.settings)
        ? (row.settings as Record<string, unknown>)
        : {},
  }
}

export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002'
}
