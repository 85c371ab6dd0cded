import { CoreErrors } from '@acme/core'
import type { RbacDb } from '../db.js'
import type { RoleDefinition } from '../engine/roles.js'
import { RbacErrors } from '../errors.js'

export interface CustomRole extends RoleDefinition {
  id: string
  createdAt: Date
  updatedAt: Date
}

/** Runs `work` with a client that sees the tenant's rows (null: the tenant-less scope). */
/** Takes a role name from a tenant's members and invitations, inside the given transaction. */
export type RemoveFromMembers = (db: RbacDb, tenantId: string, role: string) => Promise<void>

export type ScopedRun = <R>(tenantId: string | null, work: (db: RbacDb) => Promise<R>) => Promise<R>

/** Role ids are UUIDs: anything else (e.g. a role's name) names no role, and never reaches the database. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const columns = {
  id: true,
  name: true,
  description: true,
  permissions: true,
  inherits: true,
  createdAt: true,
  updatedAt: true,
} as const

function toRole(row: {
  id: string
  name: string
  description: string | null
  permissions: string[]
  inherits: string | null
  createdAt: Date
  updatedAt: Date
}): CustomRole {
  return {
    id: row.id,
    name: row.name,
    permissions: row.permissions,
    inherits: row.inherits,
    ...(row.description === null ? {} : { description: row.description }),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  }
}

/** Custom roles of a tenant, stored in the database. */
export class RoleStore {
  readonly #run: ScopedRun
  readonly #removeFromMembers: RemoveFromMembers | undefined

  /** `removeFromMembers`: tenancy's, when installed; memberships are tenancy's tables. */
  constructor(run: ScopedRun, removeFromMembers?: RemoveFromMembers) {
    this.#run = run
    this.#removeFromMembers = removeFromMembers
  }

  list(tenantId: string | null): Promise<CustomRole[]> {
    return this.#run(tenantId, async (db) =>
      (
        await db.rbacRole.findMany({
          where: { tenantId },
          select: columns,
          orderBy: { name: 'asc' },
        })
      ).map(toRole),
    )
  }

  async get(tenantId: string | null, id: string): Promise<CustomRole> {
    if (!UUID.test(id)) throw new RbacErrors.RoleNotFound()
    const row = await this.#run(tenantId, (db) =>
      db.rbacRole.findFirst({ where: { id, tenantId }, select: columns }),
    )
    if (!row) throw new RbacErrors.RoleNotFound()
    return toRole(row)
  }

  async create(
    tenantId: string | null,
    role: { name: string; description?: string; permissions: string[]; inherits?: string | null },
  ): Promise<CustomRole> {
    try {
      const row = await this.#run(tenantId, (db) =>
        db.rbacRole.create({
          data: {
            tenantId,
            name: role.name,
            description: role.description ?? null,
            permissions: role.permissions,
            inherits: role.inherits ?? null,
          },
          select: columns,
        }),
      )
      return toRole(row)
    } catch (error) {
      if ((error as { code?: unknown }).code === 'P2002') throw new RbacErrors.RoleExists()
      throw error
    }
  }

  async update(
    tenantId: string | null,
    id: string,
    patch: { description?: string; permissions?: string[]; inherits?: string | null },
  ): Promise<CustomRole> {
    const row = await this.#run(tenantId, async (db) => {
      const { count } = await db.rbacRole.updateMany({
        where: { id, tenantId },
        data: {
          ...(patch.description === undefined ? {} : { description: patch.description }),
          ...(patch.permissions === undefined ? {} : { permissions: patch.permissions }),
          ...(patch.inherits === undefined ? {} : { inherits: patch.inherits }),
        },
      })
      if (count === 0) return null
      return db.rbacRole.findFirst({ where: { id, tenantId }, select: columns })
    })
    if (!row) throw new RbacErrors.RoleNotFound()
    return toRole(row)
  }

  /**
   * Deletes the role and, in the same transaction, takes its name from whoever holds it (the
   * tenant's memberships and pending invitations, or global assignments): a role created later
   * under the same name must not fall to its former holders.
   */
  async delete(tenantId: string | null, id: string): Promise<CustomRole> {
    const role = await this.get(tenantId, id)
    const without = (roles: string[]) => roles.filter((name) => name !== role.name)
    if (tenantId === null) {
      await this.#run(null, (db) =>
        db.$transaction(async (tx) => {
          await tx.rbacRole.deleteMany({ where: { id, tenantId } })
          const holders = await tx.rbacAssignment.findMany({
            where: { roles: { has: role.name } },
            select: { userId: true, roles: true },
          })
          for (const { userId, roles } of holders) {
            await tx.rbacAssignment.update({ where: { userId }, data: { roles: without(roles) } })
          }
        }),
      )
      return role
    }
    await this.#run(tenantId, async (db) => {
      await db.rbacRole.deleteMany({ where: { id, tenantId } })
      // Tenancy owns memberships and invitations: it takes the name away, in this transaction.
      await this.#removeFromMembers?.(db, tenantId, role.name)
    })
    return role
  }

  /** Roles assigned without tenancy (global); empty when the user has no assignment. */
  async assigned(userId: string): Promise<string[] | null> {
    const row = await this.#run(null, (db) =>
      db.rbacAssignment.findUnique({ where: { userId }, select: { roles: true } }),
    )
    return row?.roles ?? null
  }

  /**
   * Replaces the user's global roles. Refuses (409) to take `lastRole` (the owner role) from its
   * last holder; changes are serialised, so two owners demoting each other cannot both pass.
   * A user who does not exist answers 404.
   */
  async assign(userId: string, roles: string[], lastRole: string): Promise<void> {
    try {
      await this.#run(null, (db) =>
        db.$transaction(async (tx) => {
          await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('acme-rbac:assignments'))`
          if (!roles.includes(lastRole)) {
            const current = await tx.rbacAssignment.findUnique({
              where: { userId },
              select: { roles: true },
            })
            if (
              current?.roles.includes(lastRole) &&
              (await tx.rbacAssignment.count({ where: { roles: { has: lastRole } } })) <= 1
            ) {
              throw new CoreErrors.LastOwner()
            }
          }
          await tx.rbacAssignment.upsert({
            where: { userId },
            create: { userId, roles },
            update: { roles },
          })
        }),
      )
    } catch (error) {
      // The assignment references the user: none with this id.
      if ((error as { code?: unknown }).code === 'P2003') throw new RbacErrors.MemberNotFound()
      throw error
    }
  }
}
