import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RbacTestApp } from './support/app.js'
import { createRbacApp } from './support/app.js'
import {
  authorizationState,
  call,
  expectProblem,
  ownerQuery,
  QUIET,
  type User,
  user,
} from './support/fixtures.js'

/**
 * Without tenancy (the Starter tier): roles are global, stored in rbac_assignments; users with no
 * assignment get `defaultRoles`; custom roles have no tenant. The default system roles apply,
 * with the app's `projects` permissions.
 */

/** Routes of an app without tenancy: no data, just the checks. */
async function projectRoutes(app: FastifyInstance) {
  app.get('/projects', { config: { auth: 'required', permission: 'projects:read' } }, async () => ({
    items: [],
  }))
  app.post(
    '/projects',
    { config: { auth: 'required', permission: 'projects:write:own' } },
    async (_request, reply) => reply.code(201).send({ created: true }),
  )
  // The record's owner comes in the path: the handler checks the own scope against it.
  app.patch<{ Params: { ownerId: string } }>(
    '/projects/of/:ownerId',
    { config: { auth: 'required', permission: 'projects:write:own' } },
    async (request, reply) => {
      if (!request.can('projects:write', { ownerId: request.params.ownerId })) {
        return reply.code(403).send({ refused: true })
      }
      return { updated: true }
    },
  )
}

let t: RbacTestApp
let owner: User
let serial = 0
const unique = (name: string) => `${name}-${++serial}`

async function seedOwner(userId: string): Promise<void> {
  await ownerQuery(
    t,
    "INSERT INTO rbac_assignments (user_id, roles, updated_at) VALUES ($1, '{owner}', now())",
    [userId],
  )
}

const assigned = async (userId: string) =>
  (
    await ownerQuery<{ roles: string[] }>(
      t,
      'SELECT roles FROM rbac_assignments WHERE user_id = $1',
      [userId],
    )
  )[0]?.roles ?? null

const setRoles = (by: User, userId: string, roles: string[]) =>
  call(t, by, undefined, {
    method: 'PUT',
    url: `/rbac/members/${userId}/roles`,
    payload: { roles },
  })

async function withRoles(name: string, roles: string[]): Promise<User> {
  const created = await user(t, name)
  const response = await setRoles(owner, created.userId, roles)
  expect(response.statusCode, response.body).toBe(200)
  return created
}

beforeAll(async () => {
  t = await createRbacApp(
    {
      defaultRoles: ['member'],
      permissions: [
        { name: 'projects:read', description: 'Read projects.' },
        {
          name: 'projects:write',
          description: 'Create and change projects.',
          grant: { admin: true, member: 'own' },
        },
      ],
    },
    { ...QUIET, tenancy: false, label: 'rbacglobal', routes: projectRoutes },
  )
  owner = await user(t, 'global-owner')
  await seedOwner(owner.userId)
})
afterAll(async () => {
  await t?.close()
})

describe('global roles', () => {
  it('a user with no assignment gets defaultRoles (member)', async () => {
    const someone = await user(t, 'newcomer')
    expect(await assigned(someone.userId)).toBeNull()
    expect((await call(t, someone, undefined, { url: '/projects' })).statusCode).toBe(200)
    expect(
      (await call(t, someone, undefined, { method: 'POST', url: '/projects' })).statusCode,
    ).toBe(201)
    expect(
      (
        await call(t, someone, undefined, {
          method: 'PATCH',
          url: `/projects/of/${someone.userId}`,
        })
      ).statusCode,
    ).toBe(200)
    expect(
      (await call(t, someone, undefined, { method: 'PATCH', url: `/projects/of/${owner.userId}` }))
        .statusCode,
    ).toBe(403)
    const me = await call(t, someone, undefined, { url: '/rbac/me/permissions' })
    expect(me.json()).toEqual({
      roles: ['member'],
      permissions: ['members:read', 'projects:read', 'projects:write:own'],
    })
    expectProblem(
      await call(t, someone, undefined, { url: '/rbac/roles' }),
      403,
      'ACME_RBAC_FORBIDDEN',
    )
  })

  it('without tenancy rbac declares the members permissions itself', async () => {
    const catalog = await call(t, owner, undefined, { url: '/rbac/permissions' })
    const members = catalog
      .json()
      .items.filter((entry: { name: string }) => entry.name.startsWith('members:'))
    expect(
      members.map((entry: { name: string; owner: string }) => [entry.name, entry.owner]),
    ).toEqual([
      ['members:manage', '@acme/rbac'],
      ['members:read', '@acme/rbac'],
    ])
  })

  it('the seeded owner assigns roles (PUT /rbac/members/:userId/roles): stored, enforced at once', async () => {
    const someone = await user(t, 'promoted')
    const response = await setRoles(owner, someone.userId, ['admin'])
    expect(response.statusCode, response.body).toBe(200)
    expect(response.json()).toEqual({ userId: someone.userId, roles: ['admin'] })
    expect(await assigned(someone.userId)).toEqual(['admin'])
    expect(
      (await call(t, someone, undefined, { method: 'PATCH', url: `/projects/of/${owner.userId}` }))
        .statusCode,
    ).toBe(200)

    // AZ-05: demoted, the very next write is refused.
    expect((await setRoles(owner, someone.userId, ['viewer'])).statusCode).toBe(200)
    expectProblem(
      await call(t, someone, undefined, { method: 'POST', url: '/projects' }),
      403,
      'ACME_RBAC_FORBIDDEN',
    )
  })

  it('assigning roles to a user who does not exist answers 404, never a server error', async () => {
    const before = await authorizationState(t)
    expectProblem(
      await setRoles(owner, randomUUID(), ['viewer']),
      404,
      'ACME_RBAC_MEMBER_NOT_FOUND',
    )
    expect(await authorizationState(t)).toEqual(before)
  })

  it('custom roles have no tenant and are assignable', async () => {
    const name = unique('auditor')
    const created = await call(t, owner, undefined, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name, permissions: ['projects:read'], inherits: null },
    })
    expect(created.statusCode, created.body).toBe(201)
    expect(
      await ownerQuery(t, 'SELECT tenant_id, permissions FROM rbac_roles WHERE name = $1', [name]),
    ).toEqual([{ tenant_id: null, permissions: ['projects:read'] }])
    const auditor = await withRoles('auditor', [name])
    expect((await call(t, auditor, undefined, { url: '/projects' })).statusCode).toBe(200)
    expectProblem(
      await call(t, auditor, undefined, { method: 'POST', url: '/projects' }),
      403,
      'ACME_RBAC_FORBIDDEN',
    )
    const listed = await call(t, owner, undefined, { url: '/rbac/roles' })
    expect(listed.json().items.map((role: { name: string }) => role.name)).toContain(name)
    expect(
      (await call(t, owner, undefined, { url: `/rbac/roles/${created.json().id}` })).json().name,
    ).toBe(name)
  })

  it('a deleted custom role re-created under the same name grants nothing to its former holders', async () => {
    const name = unique('temporary')
    const first = await call(t, owner, undefined, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name, permissions: ['projects:read'] },
    })
    const holder = await withRoles('temporary', [name])
    expect((await call(t, holder, undefined, { url: '/projects' })).statusCode).toBe(200)
    const deleted = await call(t, owner, undefined, {
      method: 'DELETE',
      url: `/rbac/roles/${first.json().id}`,
    })
    expect(deleted.statusCode).toBe(204)
    const again = await call(t, owner, undefined, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name, permissions: ['projects:read', 'projects:write', 'members:manage'] },
    })
    expect(again.statusCode).toBe(201)
    expectProblem(
      await call(t, holder, undefined, { url: '/projects' }),
      403,
      'ACME_RBAC_FORBIDDEN',
    )
    expect(await assigned(holder.userId)).toEqual([])
  })
})

describe('the last owner', () => {
  it('cannot be demoted (409) and stays owner', async () => {
    const before = await authorizationState(t)
    expectProblem(await setRoles(owner, owner.userId, ['admin']), 409, 'ACME_CORE_LAST_OWNER')
    expect(await authorizationState(t)).toEqual(before)
    expect(await assigned(owner.userId)).toEqual(['owner'])
  })

  it('two owners demoting each other at once: one owner is left', async () => {
    for (let round = 0; round < 5; round++) {
      const second = await withRoles(`second-owner-${round}`, ['owner'])
      const third = await withRoles(`third-owner-${round}`, ['owner'])
      // The seeded owner steps down: two owners are left, each demoting the other at once.
      expect((await setRoles(third, owner.userId, ['admin'])).statusCode).toBe(200)
      for (const who of [second, third]) {
        expect((await call(t, who, undefined, { url: '/rbac/me/permissions' })).statusCode).toBe(
          200,
        )
      }
      const responses = await Promise.all([
        setRoles(second, third.userId, ['admin']),
        setRoles(third, second.userId, ['admin']),
      ])
      const owners = await ownerQuery<{ user_id: string }>(
        t,
        "SELECT user_id FROM rbac_assignments WHERE 'owner' = ANY(roles)",
      )
      expect(owners, responses.map((response) => response.body).join('\n')).toHaveLength(1)
      // The other is refused: the last owner (409), or, when the winner already demoted its
      // caller, an escalation (403).
      const [won, lost] = [...responses].sort((x, y) => x.statusCode - y.statusCode)
      expect(won?.statusCode).toBe(200)
      expect(['ACME_CORE_LAST_OWNER', 'ACME_RBAC_ESCALATION']).toContain(lost?.json().code)
      // Ownership back to the seeded owner, the others out of the way.
      const keeper = owners[0]?.user_id === second.userId ? second : third
      expect((await setRoles(keeper, owner.userId, ['owner'])).statusCode).toBe(200)
      expect((await setRoles(owner, keeper.userId, ['viewer'])).statusCode).toBe(200)
    }
  })
})

describe('escalation guards without tenancy', () => {
  it('an admin cannot create a role with *, give owner, demote an owner or touch system roles', async () => {
    const admin = await withRoles('global-admin', ['admin'])
    const target = await withRoles('global-target', ['viewer'])
    const before = await authorizationState(t)
    const attempts: Array<[Parameters<typeof call>[3], number, string]> = [
      [
        { method: 'POST', url: '/rbac/roles', payload: { name: 'root', permissions: ['*'] } },
        403,
        'ACME_RBAC_ESCALATION',
      ],
      [
        {
          method: 'PUT',
          url: `/rbac/members/${target.userId}/roles`,
          payload: { roles: ['owner'] },
        },
        403,
        'ACME_RBAC_ESCALATION',
      ],
      [
        {
          method: 'PUT',
          url: `/rbac/members/${admin.userId}/roles`,
          payload: { roles: ['owner'] },
        },
        403,
        'ACME_RBAC_ESCALATION',
      ],
      [
        {
          method: 'PUT',
          url: `/rbac/members/${owner.userId}/roles`,
          payload: { roles: ['viewer'] },
        },
        403,
        'ACME_RBAC_ESCALATION',
      ],
      [
        { method: 'PATCH', url: '/rbac/roles/owner', payload: { description: 'x' } },
        403,
        'ACME_RBAC_SYSTEM_ROLE',
      ],
      [{ method: 'DELETE', url: '/rbac/roles/admin' }, 403, 'ACME_RBAC_SYSTEM_ROLE'],
      [
        { method: 'POST', url: '/rbac/roles', payload: { name: 'viewer', permissions: [] } },
        403,
        'ACME_RBAC_SYSTEM_ROLE',
      ],
    ]
    for (const [request, status, code] of attempts) {
      expectProblem(await call(t, admin, undefined, request), status, code)
    }
    expect(await authorizationState(t)).toEqual(before)
    expect(await assigned(owner.userId)).toEqual(['owner'])
  })

  it('a member (the default role) cannot assign roles at all', async () => {
    const someone = await user(t, 'plain')
    const target = await user(t, 'plain-target')
    expectProblem(await setRoles(someone, target.userId, ['viewer']), 403, 'ACME_RBAC_FORBIDDEN')
    expect(await assigned(target.userId)).toBeNull()
  })
})
