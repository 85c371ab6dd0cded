import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RbacTestApp } from './support/app.js'
import {
  authorizationState,
  type Call,
  call,
  createDocsApp,
  expectProblem,
  member,
  ownerQuery,
  type Team,
  team,
  type User,
} from './support/fixtures.js'

/**
 * Nobody creates or edits a role with, assigns, invites with, or takes away a permission they do
 * not hold; system roles are code; the last owner stays. Each refused attempt changes nothing.
 */

let t: RbacTestApp
let a: Team

beforeAll(async () => {
  t = await createDocsApp('rbacescalation')
  a = await team(t, 'esc')
})
afterAll(async () => {
  await t?.close()
})

/** Makes the call and checks it is refused with `status`/`code` and that nothing was stored. */
async function refused(
  who: User,
  request: Call,
  status: number,
  code: string,
  tenantId: string | undefined = a.tenantId,
): Promise<LightMyRequestResponse> {
  const before = await authorizationState(t)
  const response = await call(t, who, tenantId, request)
  expectProblem(response, status, code)
  expect(await authorizationState(t)).toEqual(before)
  return response
}

const escalation = (who: User, request: Call, tenantId?: string) =>
  refused(who, request, 403, 'ACME_RBAC_ESCALATION', tenantId)

async function createRole(
  who: User,
  body: { name: string; permissions: string[]; inherits?: string },
): Promise<{ id: string; name: string }> {
  const response = await call(t, who, a.tenantId, {
    method: 'POST',
    url: '/rbac/roles',
    payload: body,
  })
  expect(response.statusCode, response.body).toBe(201)
  return response.json()
}

const rolesOf = async (userId: string) =>
  (
    await ownerQuery<{ roles: string[] }>(
      t,
      'SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2',
      [a.tenantId, userId],
    )
  )[0]?.roles

describe('creating and editing roles', () => {
  it("an admin cannot create a role with '*'", async () => {
    const response = await escalation(a.admin, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name: 'superuser', permissions: ['*'] },
    })
    expect(response.json().missing).toEqual(['*'])
  })

  it("an admin cannot create a role with 'tenants:delete'", async () => {
    const response = await escalation(a.admin, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name: 'deleter', permissions: ['docs:read', 'tenants:delete'] },
    })
    expect(response.json().missing).toEqual(['tenants:delete'])
  })

  it("an admin cannot create a role inheriting the owner's permissions", async () => {
    const response = await escalation(a.admin, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name: 'owner-ish', permissions: [], inherits: 'owner' },
    })
    expect(response.json().missing).toEqual(['*'])
  })

  it('an admin cannot add a permission they lack to a custom role', async () => {
    const custom = await createRole(a.admin, { name: 'editor', permissions: ['docs:read'] })
    const response = await escalation(a.admin, {
      method: 'PATCH',
      url: `/rbac/roles/${custom.id}`,
      payload: { permissions: ['docs:read', 'tenants:delete'] },
    })
    expect(response.json().missing).toEqual(['tenants:delete'])
    await escalation(a.admin, {
      method: 'PATCH',
      url: `/rbac/roles/${custom.id}`,
      payload: { inherits: 'owner' },
    })
  })

  it('an admin cannot change or delete a role granting more than they hold', async () => {
    const custom = await createRole(a.owner, {
      name: 'closer',
      permissions: ['tenants:delete'],
    })
    await escalation(a.admin, {
      method: 'PATCH',
      url: `/rbac/roles/${custom.id}`,
      payload: { description: 'harmless, surely' },
    })
    // Taking it away from its holders is no better than handing it out.
    await escalation(a.admin, {
      method: 'PATCH',
      url: `/rbac/roles/${custom.id}`,
      payload: { permissions: ['docs:read'] },
    })
    await escalation(a.admin, { method: 'DELETE', url: `/rbac/roles/${custom.id}` })
  })

  it('a role manager without members:* cannot create a role with members:*', async () => {
    await createRole(a.owner, {
      name: 'role-keeper',
      permissions: ['roles:manage', 'members:read'],
    })
    const keeper = await member(t, a.tenantId, 'keeper', ['role-keeper'])
    const response = await escalation(keeper, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name: 'all-members', permissions: ['members:*'] },
    })
    expect(response.json().missing).toEqual(['members:*'])
    // What they hold they may hand on: the guard is not a blanket refusal.
    const allowed = await call(t, keeper, a.tenantId, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name: 'readers', permissions: ['members:read'] },
    })
    expect(allowed.statusCode, allowed.body).toBe(201)
  })
})

describe('system roles', () => {
  it('PATCH and DELETE /rbac/roles/owner answer 403 SYSTEM_ROLE, even to the owner', async () => {
    for (const who of [a.owner, a.admin]) {
      await refused(
        who,
        { method: 'PATCH', url: '/rbac/roles/owner', payload: { description: 'mine now' } },
        403,
        'ACME_RBAC_SYSTEM_ROLE',
      )
      await refused(
        who,
        { method: 'DELETE', url: '/rbac/roles/owner' },
        403,
        'ACME_RBAC_SYSTEM_ROLE',
      )
    }
    await refused(
      a.owner,
      { method: 'PATCH', url: '/rbac/roles/viewer', payload: { permissions: ['*'] } },
      403,
      'ACME_RBAC_SYSTEM_ROLE',
    )
  })

  it("creating a role named 'admin' answers 403 SYSTEM_ROLE", async () => {
    await refused(
      a.owner,
      {
        method: 'POST',
        url: '/rbac/roles',
        payload: { name: 'admin', permissions: ['docs:read'] },
      },
      403,
      'ACME_RBAC_SYSTEM_ROLE',
    )
  })
})

describe('assigning roles', () => {
  it("an admin cannot give 'owner' (PUT /rbac/members/:userId/roles)", async () => {
    const target = await member(t, a.tenantId, 'hopeful', ['viewer'])
    const response = await escalation(a.admin, {
      method: 'PUT',
      url: `/rbac/members/${target.userId}/roles`,
      payload: { roles: ['owner'] },
    })
    expect(response.json().missing).toEqual(['*'])
    // Nor to themselves.
    await escalation(a.admin, {
      method: 'PUT',
      url: `/rbac/members/${a.admin.userId}/roles`,
      payload: { roles: ['admin', 'owner'] },
    })
  })

  it("an admin cannot give 'owner' through tenancy's PATCH /tenants/:id/members/:userId", async () => {
    const target = await member(t, a.tenantId, 'hopeful-too', ['viewer'])
    await escalation(
      a.admin,
      {
        method: 'PATCH',
        url: `/tenants/${a.tenantId}/members/${target.userId}`,
        payload: { roles: ['owner'] },
      },
      undefined,
    )
    await escalation(
      a.admin,
      {
        method: 'PATCH',
        url: `/tenants/${a.tenantId}/members/${a.admin.userId}`,
        payload: { roles: ['owner'] },
      },
      undefined,
    )
  })

  it('an admin cannot assign a custom role granting more than they hold', async () => {
    await createRole(a.owner, { name: 'wrecker', permissions: ['tenants:delete'] })
    const target = await member(t, a.tenantId, 'wrecker-to-be', ['viewer'])
    await escalation(a.admin, {
      method: 'PUT',
      url: `/rbac/members/${target.userId}/roles`,
      payload: { roles: ['wrecker'] },
    })
  })

  it('a manager cannot widen their own roles', async () => {
    await createRole(a.owner, { name: 'manager', permissions: ['members:manage', 'members:read'] })
    const manager = await member(t, a.tenantId, 'manager', ['manager'])
    // 'viewer' adds docs:read, which the manager does not hold.
    const response = await escalation(manager, {
      method: 'PUT',
      url: `/rbac/members/${manager.userId}/roles`,
      payload: { roles: ['manager', 'viewer'] },
    })
    expect(response.json().missing).toEqual(['docs:read'])
  })

  it('an admin cannot demote the owner, by either route', async () => {
    await escalation(a.admin, {
      method: 'PUT',
      url: `/rbac/members/${a.owner.userId}/roles`,
      payload: { roles: ['admin'] },
    })
    await escalation(
      a.admin,
      {
        method: 'PATCH',
        url: `/tenants/${a.tenantId}/members/${a.owner.userId}`,
        payload: { roles: ['viewer'] },
      },
      undefined,
    )
    expect(await rolesOf(a.owner.userId)).toEqual(['owner'])
  })

  it('an admin cannot remove the owner', async () => {
    await escalation(
      a.admin,
      { method: 'DELETE', url: `/tenants/${a.tenantId}/members/${a.owner.userId}` },
      undefined,
    )
    expect(await rolesOf(a.owner.userId)).toEqual(['owner'])
  })
})

describe('invitations', () => {
  it('an admin cannot invite an owner', async () => {
    const response = await escalation(
      a.admin,
      {
        method: 'POST',
        url: `/tenants/${a.tenantId}/invitations`,
        payload: { email: 'would-be-owner@elsewhere.test', roles: ['owner'] },
      },
      undefined,
    )
    expect(response.json().missing).toEqual(['*'])
  })

  it('a member with a custom role holding members:invite cannot invite an admin', async () => {
    await createRole(a.owner, {
      name: 'inviter',
      permissions: ['members:invite'],
      inherits: 'member',
    })
    const inviter = await member(t, a.tenantId, 'inviter', ['inviter'])
    await escalation(
      inviter,
      {
        method: 'POST',
        url: `/tenants/${a.tenantId}/invitations`,
        payload: { email: 'would-be-admin@elsewhere.test', roles: ['admin'] },
      },
      undefined,
    )
    await escalation(
      inviter,
      {
        method: 'POST',
        url: `/tenants/${a.tenantId}/invitations`,
        payload: { email: 'would-be-admin@elsewhere.test', roles: ['viewer', 'inviter', 'admin'] },
      },
      undefined,
    )
    // Roles within what they hold are fine.
    const allowed = await call(t, inviter, undefined, {
      method: 'POST',
      url: `/tenants/${a.tenantId}/invitations`,
      payload: { email: 'colleague@elsewhere.test', roles: ['member'] },
    })
    expect(allowed.statusCode, allowed.body).toBe(201)
    const stored = await ownerQuery(t, 'SELECT roles FROM invitations WHERE email = $1', [
      'colleague@elsewhere.test',
    ])
    expect(stored).toEqual([{ roles: ['member'] }])
  })

  it('an unknown role cannot be invited with', async () => {
    await refused(
      a.owner,
      {
        method: 'POST',
        url: `/tenants/${a.tenantId}/invitations`,
        payload: { email: 'nobody@elsewhere.test', roles: ['ghost'] },
      },
      400,
      'ACME_RBAC_UNKNOWN_ROLE',
      undefined,
    )
  })
})

describe('the last owner', () => {
  it('cannot be demoted, even by themselves (409), and stays owner', async () => {
    const solo = await team(t, 'solo')
    await refused(
      solo.owner,
      {
        method: 'PUT',
        url: `/rbac/members/${solo.owner.userId}/roles`,
        payload: { roles: ['admin'] },
      },
      409,
      'ACME_CORE_LAST_OWNER',
      solo.tenantId,
    )
    await refused(
      solo.owner,
      {
        method: 'PATCH',
        url: `/tenants/${solo.tenantId}/members/${solo.owner.userId}`,
        payload: { roles: ['admin'] },
      },
      409,
      'ACME_CORE_LAST_OWNER',
      undefined,
    )
    await refused(
      solo.owner,
      { method: 'DELETE', url: `/tenants/${solo.tenantId}/members/${solo.owner.userId}` },
      409,
      'ACME_CORE_LAST_OWNER',
      undefined,
    )
  })

  it('an owner may hand over: promote another owner, then step down', async () => {
    const pair = await team(t, 'handover')
    const promoted = await call(t, pair.owner, pair.tenantId, {
      method: 'PUT',
      url: `/rbac/members/${pair.admin.userId}/roles`,
      payload: { roles: ['owner'] },
    })
    expect(promoted.statusCode, promoted.body).toBe(200)
    const stepped = await call(t, pair.owner, pair.tenantId, {
      method: 'PUT',
      url: `/rbac/members/${pair.owner.userId}/roles`,
      payload: { roles: ['admin'] },
    })
    expect(stepped.statusCode, stepped.body).toBe(200)
    const rows = await ownerQuery<{ user_id: string; roles: string[] }>(
      t,
      "SELECT user_id, roles FROM memberships WHERE tenant_id = $1 AND 'owner' = ANY(roles)",
      [pair.tenantId],
    )
    expect(rows).toEqual([{ user_id: pair.admin.userId, roles: ['owner'] }])
  })
})
