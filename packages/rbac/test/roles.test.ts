import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RbacTestApp } from './support/app.js'
import {
  authorizationState,
  call,
  createDocsApp,
  expectProblem,
  member,
  ownerQuery,
  type Team,
  team,
  type User,
} from './support/fixtures.js'

let t: RbacTestApp
let a: Team
let b: Team
let serial = 0
const unique = (name: string) => `${name}-${++serial}`

beforeAll(async () => {
  t = await createDocsApp('rbacroles')
  a = await team(t, 'roles-a')
  b = await team(t, 'roles-b')
})
afterAll(async () => {
  await t?.close()
})

async function createRole(
  tenant: Team,
  body: { name: string; permissions: string[]; inherits?: string | null; description?: string },
): Promise<{ id: string; name: string }> {
  const response = await call(t, tenant.owner, tenant.tenantId, {
    method: 'POST',
    url: '/rbac/roles',
    payload: body,
  })
  expect(response.statusCode, response.body).toBe(201)
  return response.json()
}

async function doc(tenantId: string, ownerId: string): Promise<string> {
  const [row] = await ownerQuery<{ id: string }>(
    t,
    "INSERT INTO docs (id, tenant_id, owner_id, title) VALUES (gen_random_uuid(), $1, $2, 'draft') RETURNING id",
    [tenantId, ownerId],
  )
  return row?.id ?? ''
}

const edit = (who: User, tenantId: string, id: string, title = unique('title')) =>
  call(t, who, tenantId, { method: 'PATCH', url: `/docs/${id}`, payload: { title } })
const list = (who: User, tenantId: string) => call(t, who, tenantId, { url: '/docs' })
const setRoles = (by: User, tenantId: string, userId: string, roles: string[]) =>
  call(t, by, tenantId, { method: 'PUT', url: `/rbac/members/${userId}/roles`, payload: { roles } })
const myPermissions = async (who: User, tenantId: string) =>
  (await call(t, who, tenantId, { url: '/rbac/me/permissions' })).json().permissions as string[]

describe('wildcards and :own through HTTP', () => {
  it('a member with docs:write:own edits their own document (200), not another (403)', async () => {
    const own = await doc(a.tenantId, a.member.userId)
    const theirs = await doc(a.tenantId, a.viewer.userId)
    expect((await edit(a.member, a.tenantId, own)).statusCode).toBe(200)
    const refused = await edit(a.member, a.tenantId, theirs)
    expectProblem(refused, 403, 'ACME_RBAC_FORBIDDEN')
    const [row] = await ownerQuery(t, 'SELECT title FROM docs WHERE id = $1', [theirs])
    expect(row).toEqual({ title: 'draft' })
  })

  it("'docs:*:own' writes one's own documents only; 'docs:*' every document", async () => {
    const ownOnly = await createRole(a, { name: unique('own-docs'), permissions: ['docs:*:own'] })
    const everything = await createRole(a, { name: unique('all-docs'), permissions: ['docs:*'] })
    const writer = await member(t, a.tenantId, 'own-writer', [ownOnly.name])
    const editor = await member(t, a.tenantId, 'all-editor', [everything.name])
    const writersDoc = await doc(a.tenantId, writer.userId)
    const ownersDoc = await doc(a.tenantId, a.owner.userId)

    expect((await edit(writer, a.tenantId, writersDoc)).statusCode).toBe(200)
    expectProblem(await edit(writer, a.tenantId, ownersDoc), 403, 'ACME_RBAC_FORBIDDEN')
    // An own grant on every action is not a read of every document.
    expectProblem(await list(writer, a.tenantId), 403, 'ACME_RBAC_FORBIDDEN')
    expect(await myPermissions(writer, a.tenantId)).toEqual(['docs:read:own', 'docs:write:own'])

    expect((await edit(editor, a.tenantId, ownersDoc)).statusCode).toBe(200)
    expect((await list(editor, a.tenantId)).statusCode).toBe(200)
    expect(await myPermissions(editor, a.tenantId)).toEqual(['docs:read', 'docs:write'])
  })

  it("'members:*' grants every members action, e.g. inviting", async () => {
    const people = await createRole(a, { name: unique('people'), permissions: ['members:*'] })
    const hr = await member(t, a.tenantId, 'hr', [people.name])
    const invited = await call(t, hr, undefined, {
      method: 'POST',
      url: `/tenants/${a.tenantId}/invitations`,
      payload: { email: `${unique('hire')}@elsewhere.test`, roles: [people.name] },
    })
    expect(invited.statusCode, invited.body).toBe(201)
    // ...and nothing else.
    expectProblem(await list(hr, a.tenantId), 403, 'ACME_RBAC_FORBIDDEN')
  })
})

describe('inheritance', () => {
  it("a custom role inheriting viewer grants viewer's permissions and its own", async () => {
    const reviewer = await createRole(a, {
      name: unique('reviewer'),
      permissions: ['docs:write:own'],
      inherits: 'viewer',
    })
    const user = await member(t, a.tenantId, 'reviewer', [reviewer.name])
    expect((await list(user, a.tenantId)).statusCode).toBe(200)
    const created = await call(t, user, a.tenantId, {
      method: 'POST',
      url: '/docs',
      payload: { title: 'review' },
    })
    expect(created.statusCode, created.body).toBe(201)
    expect(await myPermissions(user, a.tenantId)).toEqual([
      'docs:read',
      'docs:write:own',
      'members:read',
    ])
  })

  it('a change to a parent reaches the holders of its heirs on the next request', async () => {
    const base = await createRole(a, { name: unique('base'), permissions: ['docs:read'] })
    const middle = await createRole(a, {
      name: unique('middle'),
      permissions: [],
      inherits: base.name,
    })
    const leaf = await createRole(a, {
      name: unique('leaf'),
      permissions: [],
      inherits: middle.name,
    })
    const user = await member(t, a.tenantId, 'leaf', [leaf.name])
    expect((await list(user, a.tenantId)).statusCode).toBe(200)
    const changed = await call(t, a.owner, a.tenantId, {
      method: 'PATCH',
      url: `/rbac/roles/${base.id}`,
      payload: { permissions: ['members:read'] },
    })
    expect(changed.statusCode, changed.body).toBe(200)
    expectProblem(await list(user, a.tenantId), 403, 'ACME_RBAC_FORBIDDEN')
  })

  it('a cycle (a → b → a) answers 400 INVALID_ROLE and stores nothing', async () => {
    const first = await createRole(a, { name: unique('cycle-a'), permissions: ['docs:read'] })
    const second = await createRole(a, {
      name: unique('cycle-b'),
      permissions: [],
      inherits: first.name,
    })
    const before = await authorizationState(t)
    const response = await call(t, a.owner, a.tenantId, {
      method: 'PATCH',
      url: `/rbac/roles/${first.id}`,
      payload: { inherits: second.name },
    })
    expectProblem(response, 400, 'ACME_RBAC_INVALID_ROLE')
    expect(response.json().problems.join(' ')).toContain('cycle')
    expect(await authorizationState(t)).toEqual(before)

    const selfish = unique('selfish')
    expectProblem(
      await call(t, a.owner, a.tenantId, {
        method: 'POST',
        url: '/rbac/roles',
        payload: { name: selfish, permissions: [], inherits: selfish },
      }),
      400,
      'ACME_RBAC_INVALID_ROLE',
    )
    expect(await authorizationState(t)).toEqual(before)
  })

  it('deleting a role others inherit answers 409 ROLE_IN_USE and keeps it', async () => {
    const parent = await createRole(a, { name: unique('parent'), permissions: ['docs:read'] })
    const child = await createRole(a, {
      name: unique('child'),
      permissions: [],
      inherits: parent.name,
    })
    const before = await authorizationState(t)
    const response = await call(t, a.owner, a.tenantId, {
      method: 'DELETE',
      url: `/rbac/roles/${parent.id}`,
    })
    expectProblem(response, 409, 'ACME_RBAC_ROLE_IN_USE')
    expect(response.json().detail).toContain(child.name)
    expect(await authorizationState(t)).toEqual(before)
    // Once the heir is gone, the parent goes too.
    expect(
      (await call(t, a.owner, a.tenantId, { method: 'DELETE', url: `/rbac/roles/${child.id}` }))
        .statusCode,
    ).toBe(204)
    expect(
      (await call(t, a.owner, a.tenantId, { method: 'DELETE', url: `/rbac/roles/${parent.id}` }))
        .statusCode,
    ).toBe(204)
  })
})

describe('validation', () => {
  it.each([
    ['an undeclared action', ['docs:delete']],
    ['an undeclared resource', ['widgets:*']],
    ['an undeclared own-scoped action', ['widgets:read:own']],
    ['a malformed permission', ['Docs:Read']],
    ['a wildcard action on every resource', ['*:read']],
  ])('a role with %s answers 400 INVALID_ROLE, nothing stored', async (_case, permissions) => {
    const before = await authorizationState(t)
    const response = await call(t, a.owner, a.tenantId, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name: unique('bad'), permissions },
    })
    expectProblem(response, 400, 'ACME_RBAC_INVALID_ROLE')
    expect(await authorizationState(t)).toEqual(before)
  })

  it('an unknown parent answers 400 INVALID_ROLE', async () => {
    expectProblem(
      await call(t, a.owner, a.tenantId, {
        method: 'POST',
        url: '/rbac/roles',
        payload: { name: unique('orphan'), permissions: [], inherits: 'ghost' },
      }),
      400,
      'ACME_RBAC_INVALID_ROLE',
    )
  })

  it('a second role with the same name answers 409 ROLE_EXISTS', async () => {
    const name = unique('twin')
    await createRole(a, { name, permissions: ['docs:read'] })
    const before = await authorizationState(t)
    expectProblem(
      await call(t, a.owner, a.tenantId, {
        method: 'POST',
        url: '/rbac/roles',
        payload: { name, permissions: ['members:read'] },
      }),
      409,
      'ACME_RBAC_ROLE_EXISTS',
    )
    expect(await authorizationState(t)).toEqual(before)
  })

  it('assigning an unknown role answers 400 UNKNOWN_ROLE; a non-member 404', async () => {
    const before = await authorizationState(t)
    expectProblem(
      await setRoles(a.owner, a.tenantId, a.viewer.userId, ['ghost']),
      400,
      'ACME_RBAC_UNKNOWN_ROLE',
    )
    expectProblem(
      await setRoles(a.owner, a.tenantId, b.viewer.userId, ['viewer']),
      404,
      'ACME_RBAC_MEMBER_NOT_FOUND',
    )
    expect(await authorizationState(t)).toEqual(before)
  })

  it('a custom role named instead of its id answers 404 on every route, never a server error', async () => {
    const role = await createRole(a, { name: unique('by-name'), permissions: ['docs:read'] })
    const before = await authorizationState(t)
    for (const request of [
      { url: `/rbac/roles/${role.name}` },
      { method: 'PATCH' as const, url: `/rbac/roles/${role.name}`, payload: { description: 'x' } },
      { method: 'DELETE' as const, url: `/rbac/roles/${role.name}` },
    ]) {
      expectProblem(await call(t, a.owner, a.tenantId, request), 404, 'ACME_RBAC_ROLE_NOT_FOUND')
    }
    expect(await authorizationState(t)).toEqual(before)
  })

  it('GET /rbac/roles/:name shows a system role as such', async () => {
    const response = await call(t, a.owner, a.tenantId, { url: '/rbac/roles/viewer' })
    expect(response.json()).toEqual({
      id: 'viewer',
      name: 'viewer',
      description: 'Reads the tenant',
      permissions: ['docs:read', 'members:read'],
      inherits: null,
      system: true,
    })
  })
})

describe('AZ-05: permissions are resolved per request', () => {
  it("removing a member's docs:write (PUT roles): the very next write answers 403", async () => {
    const writer = await createRole(a, {
      name: unique('writer'),
      permissions: ['docs:read', 'docs:write'],
    })
    const user = await member(t, a.tenantId, 'writer', [writer.name])
    const target = await doc(a.tenantId, a.owner.userId)
    expect((await edit(user, a.tenantId, target, 'before')).statusCode).toBe(200)

    const demoted = await setRoles(a.owner, a.tenantId, user.userId, ['viewer'])
    expect(demoted.statusCode, demoted.body).toBe(200)
    expect(demoted.json()).toEqual({ userId: user.userId, roles: ['viewer'] })

    expectProblem(await edit(user, a.tenantId, target, 'after'), 403, 'ACME_RBAC_FORBIDDEN')
    const [row] = await ownerQuery(t, 'SELECT title FROM docs WHERE id = $1', [target])
    expect(row).toEqual({ title: 'before' })
  })

  it("the same through tenancy's PATCH /tenants/:id/members/:userId", async () => {
    const writer = await createRole(a, {
      name: unique('writer'),
      permissions: ['docs:read', 'docs:write'],
    })
    const user = await member(t, a.tenantId, 'writer-t', [writer.name])
    const target = await doc(a.tenantId, a.owner.userId)
    expect((await edit(user, a.tenantId, target)).statusCode).toBe(200)
    const demoted = await call(t, a.owner, undefined, {
      method: 'PATCH',
      url: `/tenants/${a.tenantId}/members/${user.userId}`,
      payload: { roles: ['viewer'] },
    })
    expect(demoted.statusCode, demoted.body).toBe(200)
    expectProblem(await edit(user, a.tenantId, target), 403, 'ACME_RBAC_FORBIDDEN')
  })

  it('taking docs:write out of the role, or deleting the role: the very next write answers 403', async () => {
    const writer = await createRole(a, {
      name: unique('writer'),
      permissions: ['docs:read', 'docs:write'],
    })
    const user = await member(t, a.tenantId, 'writer-r', [writer.name])
    const target = await doc(a.tenantId, a.owner.userId)
    expect((await edit(user, a.tenantId, target)).statusCode).toBe(200)
    const narrowed = await call(t, a.owner, a.tenantId, {
      method: 'PATCH',
      url: `/rbac/roles/${writer.id}`,
      payload: { permissions: ['docs:read'] },
    })
    expect(narrowed.statusCode, narrowed.body).toBe(200)
    expectProblem(await edit(user, a.tenantId, target), 403, 'ACME_RBAC_FORBIDDEN')

    const restored = await call(t, a.owner, a.tenantId, {
      method: 'PATCH',
      url: `/rbac/roles/${writer.id}`,
      payload: { permissions: ['docs:read', 'docs:write'] },
    })
    expect(restored.statusCode).toBe(200)
    expect((await edit(user, a.tenantId, target)).statusCode).toBe(200)
    expect(
      (await call(t, a.owner, a.tenantId, { method: 'DELETE', url: `/rbac/roles/${writer.id}` }))
        .statusCode,
    ).toBe(204)
    expectProblem(await list(user, a.tenantId), 403, 'ACME_RBAC_FORBIDDEN')
  })

  it('a deleted role re-created under the same name grants nothing to its former holders', async () => {
    const name = unique('temp')
    const first = await createRole(a, { name, permissions: ['docs:read'] })
    const user = await member(t, a.tenantId, 'former', [name, 'member'])
    const invitee = `${unique('invitee')}@elsewhere.test`
    const invited = await call(t, a.owner, undefined, {
      method: 'POST',
      url: `/tenants/${a.tenantId}/invitations`,
      payload: { email: invitee, roles: [name, 'viewer'] },
    })
    expect(invited.statusCode, invited.body).toBe(201)
    expect((await list(user, a.tenantId)).statusCode).toBe(200)
    expect(
      (await call(t, a.owner, a.tenantId, { method: 'DELETE', url: `/rbac/roles/${first.id}` }))
        .statusCode,
    ).toBe(204)
    // Nobody holds the name any more, nor will by a pending invitation.
    expect(
      await ownerQuery(t, 'SELECT roles FROM memberships WHERE tenant_id = $1 AND user_id = $2', [
        a.tenantId,
        user.userId,
      ]),
    ).toEqual([{ roles: ['member'] }])
    expect(
      await ownerQuery(t, 'SELECT roles FROM invitations WHERE email = $1', [invitee]),
    ).toEqual([{ roles: ['viewer'] }])
    await createRole(a, { name, permissions: ['docs:read', 'docs:write', 'members:*'] })
    const theirs = await doc(a.tenantId, a.owner.userId)
    expectProblem(await edit(user, a.tenantId, theirs), 403, 'ACME_RBAC_FORBIDDEN')
    expect(await myPermissions(user, a.tenantId)).toEqual([
      'docs:read',
      'docs:write:own',
      'members:read',
    ])
  })
})

describe('tenant isolation of custom roles', () => {
  it("tenant A's custom roles are invisible and unusable in tenant B", async () => {
    const secret = await createRole(a, { name: unique('a-only'), permissions: ['docs:read'] })

    const listed = await call(t, b.owner, b.tenantId, { url: '/rbac/roles' })
    expect(listed.statusCode).toBe(200)
    expect(listed.json().items.map((role: { name: string }) => role.name)).toEqual([
      'owner',
      'admin',
      'member',
      'viewer',
    ])

    const before = await authorizationState(t)
    expectProblem(
      await call(t, b.owner, b.tenantId, { url: `/rbac/roles/${secret.id}` }),
      404,
      'ACME_RBAC_ROLE_NOT_FOUND',
    )
    expectProblem(
      await call(t, b.owner, b.tenantId, {
        method: 'PATCH',
        url: `/rbac/roles/${secret.id}`,
        payload: { permissions: ['*'] },
      }),
      404,
      'ACME_RBAC_ROLE_NOT_FOUND',
    )
    expectProblem(
      await call(t, b.owner, b.tenantId, { method: 'DELETE', url: `/rbac/roles/${secret.id}` }),
      404,
      'ACME_RBAC_ROLE_NOT_FOUND',
    )
    expectProblem(
      await setRoles(b.owner, b.tenantId, b.viewer.userId, [secret.name]),
      400,
      'ACME_RBAC_UNKNOWN_ROLE',
    )
    expectProblem(
      await call(t, b.owner, b.tenantId, {
        method: 'POST',
        url: '/rbac/roles',
        payload: { name: unique('heir'), permissions: [], inherits: secret.name },
      }),
      400,
      'ACME_RBAC_INVALID_ROLE',
    )
    expect(await authorizationState(t)).toEqual(before)
  })

  it('the same name in two tenants is two roles: each tenant gets its own', async () => {
    const name = unique('shared-name')
    await createRole(a, { name, permissions: ['docs:read'] })
    await createRole(b, { name, permissions: ['members:read'] })
    const inA = await member(t, a.tenantId, 'twin-a', [name])
    const inB = await member(t, b.tenantId, 'twin-b', [name])
    expect(await myPermissions(inA, a.tenantId)).toEqual(['docs:read'])
    expect(await myPermissions(inB, b.tenantId)).toEqual(['members:read'])
    // A member of A only is not let into B by naming it.
    expectProblem(await list(inA, b.tenantId), 404, 'ACME_TENANCY_TENANT_NOT_FOUND')
  })
})

describe('events', () => {
  it('role and assignment changes are announced', async () => {
    const seen: Array<{ name: string; payload: unknown }> = []
    const stop = t.app.events.onAny(async (event) => {
      if (event.name.startsWith('role.') || event.name === 'member.roles_changed') {
        seen.push({ name: event.name, payload: event.payload })
      }
    })
    try {
      const role = await createRole(a, { name: unique('announced'), permissions: ['docs:read'] })
      await call(t, a.owner, a.tenantId, {
        method: 'PATCH',
        url: `/rbac/roles/${role.id}`,
        payload: { description: 'now described' },
      })
      const user = await member(t, a.tenantId, 'announced', ['viewer'])
      await setRoles(a.owner, a.tenantId, user.userId, [role.name])
      await call(t, a.owner, a.tenantId, { method: 'DELETE', url: `/rbac/roles/${role.id}` })
      const common = { tenantId: a.tenantId, roleId: role.id, name: role.name, by: a.owner.userId }
      expect(seen).toEqual([
        { name: 'role.created', payload: common },
        { name: 'role.updated', payload: common },
        {
          name: 'member.roles_changed',
          payload: {
            tenantId: a.tenantId,
            userId: user.userId,
            roles: [role.name],
            by: a.owner.userId,
          },
        },
        { name: 'role.deleted', payload: common },
      ])
    } finally {
      stop()
    }
  })
})
