import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RbacTestApp } from './support/app.js'
import {
  as,
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
 * An API key acts for its creator with its scopes: what it may do is its scopes intersected with
 * what the creator holds now, in the request's tenant, recomputed when the creator changes.
 */

let t: RbacTestApp
let a: Team
let other: Team

beforeAll(async () => {
  t = await createDocsApp('rbacapikeys')
  a = await team(t, 'keys-a')
  other = await team(t, 'keys-b')
})
afterAll(async () => {
  await t?.close()
})

interface Key {
  id: string
  key: string
}

/** A key of the tenant, made by its creator through tenancy's POST /tenants/:tenantId/api-keys. */
async function tenantKey(creator: User, tenantId: string, scopes: string[]): Promise<Key> {
  const response = await call(t, creator, undefined, {
    method: 'POST',
    url: `/tenants/${tenantId}/api-keys`,
    payload: { name: `tenant key of ${creator.email}`, scopes },
  })
  expect(response.statusCode, response.body).toBe(201)
  const { id, key } = response.json()
  const [stored] = await ownerQuery(
    t,
    'SELECT owner_id, tenant_id, scopes FROM api_keys WHERE id = $1',
    [id],
  )
  expect(stored).toEqual({ owner_id: creator.userId, tenant_id: tenantId, scopes })
  return { id, key }
}

/**
 * A key bound to the tenant for a creator who may not manage the tenant's keys (a key made
 * earlier, or by the app through app.auth).
 */
async function boundKey(creator: User, tenantId: string, scopes: string[]): Promise<Key> {
  const { key, record } = await t.app.auth.apiKeys.create(creator.userId, {
    name: `key of ${creator.email}`,
    scopes,
    columns: { tenantId },
  })
  const [stored] = await ownerQuery(
    t,
    'SELECT owner_id, tenant_id, scopes FROM api_keys WHERE id = $1',
    [record.id],
  )
  expect(stored).toEqual({ owner_id: creator.userId, tenant_id: tenantId, scopes })
  return { id: record.id, key }
}

const withKey = (
  key: Key,
  request: { method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'; url: string; payload?: object },
  tenantId?: string,
) =>
  t.app.inject({
    method: request.method ?? 'GET',
    url: request.url,
    headers: { 'x-api-key': key.key, ...(tenantId ? { 'x-tenant-id': tenantId } : {}) },
    ...(request.payload ? { payload: request.payload } : {}),
  })

async function doc(tenantId: string, ownerId: string): Promise<string> {
  const [row] = await ownerQuery<{ id: string }>(
    t,
    "INSERT INTO docs (id, tenant_id, owner_id, title) VALUES (gen_random_uuid(), $1, $2, 'draft') RETURNING id",
    [tenantId, ownerId],
  )
  return row?.id ?? ''
}

const title = async (id: string) =>
  (await ownerQuery<{ title: string }>(t, 'SELECT title FROM docs WHERE id = $1', [id]))[0]?.title

const setRoles = (by: User, tenantId: string, userId: string, roles: string[]) =>
  call(t, by, tenantId, { method: 'PUT', url: `/rbac/members/${userId}/roles`, payload: { roles } })

describe('scopes ∩ the creator’s permissions', () => {
  it('a key never holds what is outside its scopes, even when its creator does', async () => {
    const key = await tenantKey(a.admin, a.tenantId, ['docs:read', 'docs:write'])
    expect((await withKey(key, { url: '/docs' })).statusCode).toBe(200)
    const created = await withKey(key, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name: 'by-key', permissions: [] },
    })
    expectProblem(created, 403, 'ACME_RBAC_FORBIDDEN')
    expect(created.json().missing).toEqual(['roles:manage'])
    const me = await withKey(key, { url: '/rbac/me/permissions' })
    expect(me.json()).toEqual({ roles: [], permissions: ['docs:read', 'docs:write'] })
  })

  it("a key with scope '*' held by a viewer cannot write", async () => {
    const key = await boundKey(a.viewer, a.tenantId, ['*'])
    const target = await doc(a.tenantId, a.viewer.userId)
    expect((await withKey(key, { url: '/docs' })).statusCode).toBe(200)
    const written = await withKey(key, {
      method: 'POST',
      url: '/docs',
      payload: { title: 'by a key' },
    })
    expectProblem(written, 403, 'ACME_RBAC_FORBIDDEN')
    expectProblem(
      await withKey(key, {
        method: 'PATCH',
        url: `/docs/${target}`,
        payload: { title: 'by a key' },
      }),
      403,
      'ACME_RBAC_FORBIDDEN',
    )
    expect(await ownerQuery(t, "SELECT id FROM docs WHERE title = 'by a key'")).toEqual([])
    expect((await withKey(key, { url: '/rbac/me/permissions' })).json().permissions).toEqual([
      'docs:read',
      'members:read',
    ])
  })

  it('an own-scoped key writes only documents of its creator', async () => {
    const key = await tenantKey(a.admin, a.tenantId, ['docs:write:own'])
    const mine = await doc(a.tenantId, a.admin.userId)
    const theirs = await doc(a.tenantId, a.member.userId)
    const edited = await withKey(key, {
      method: 'PATCH',
      url: `/docs/${mine}`,
      payload: { title: 'mine, by key' },
    })
    expect(edited.statusCode, edited.body).toBe(200)
    expectProblem(
      await withKey(key, {
        method: 'PATCH',
        url: `/docs/${theirs}`,
        payload: { title: 'theirs, by key' },
      }),
      403,
      'ACME_RBAC_FORBIDDEN',
    )
    expect(await title(theirs)).toBe('draft')
  })

  it('a key cannot hand out more than its scopes through role management', async () => {
    const key = await tenantKey(a.owner, a.tenantId, ['roles:manage', 'docs:read'])
    const refused = await withKey(key, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name: 'key-made', permissions: ['docs:write'] },
    })
    expectProblem(refused, 403, 'ACME_RBAC_ESCALATION')
    expect(refused.json().missing).toEqual(['docs:write'])
    expect(await ownerQuery(t, "SELECT id FROM rbac_roles WHERE name = 'key-made'")).toEqual([])
    const allowed = await withKey(key, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name: 'key-made', permissions: ['docs:read'] },
    })
    expect(allowed.statusCode, allowed.body).toBe(201)
  })

  it('a key bound to one tenant is refused in another', async () => {
    const key = await tenantKey(a.admin, a.tenantId, ['*'])
    // Its creator is an admin there too: the key's binding alone keeps it out.
    await t.app.tenancy.tenants.addMember(other.tenantId, a.admin.userId, ['admin'])
    expectProblem(
      await withKey(key, { url: '/docs' }, other.tenantId),
      404,
      'ACME_TENANCY_TENANT_NOT_FOUND',
    )
  })

  it('a key made through POST /auth/api-keys (no tenant) gets its creator’s permissions of the tenant it names', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/auth/api-keys',
      headers: as(a.member),
      payload: { name: 'cli', scopes: ['docs:read', 'docs:write'] },
    })
    expect(created.statusCode, created.body).toBe(201)
    const key = { id: created.json().apiKey.id, key: created.json().key }
    // Member: docs:write:own only, whatever the key's scope says.
    const theirs = await doc(a.tenantId, a.owner.userId)
    expectProblem(
      await withKey(
        key,
        { method: 'PATCH', url: `/docs/${theirs}`, payload: { title: 'x' } },
        a.tenantId,
      ),
      403,
      'ACME_RBAC_FORBIDDEN',
    )
    expect(
      (await withKey(key, { url: '/rbac/me/permissions' }, a.tenantId)).json().permissions,
    ).toEqual(['docs:read', 'docs:write:own'])
    // In a tenant the creator is not a member of: nothing.
    expectProblem(
      await withKey(key, { url: '/docs' }, other.tenantId),
      404,
      'ACME_TENANCY_TENANT_NOT_FOUND',
    )
  })
})

describe('recomputed live', () => {
  it('demoting the creator (PUT roles): the key loses the right on the next request', async () => {
    const creator = await member(t, a.tenantId, 'key-creator', ['admin'])
    const key = await tenantKey(creator, a.tenantId, ['docs:read', 'docs:write'])
    const target = await doc(a.tenantId, a.owner.userId)
    const before = await withKey(key, {
      method: 'PATCH',
      url: `/docs/${target}`,
      payload: { title: 'while admin' },
    })
    expect(before.statusCode, before.body).toBe(200)

    expect((await setRoles(a.owner, a.tenantId, creator.userId, ['viewer'])).statusCode).toBe(200)

    expectProblem(
      await withKey(key, {
        method: 'PATCH',
        url: `/docs/${target}`,
        payload: { title: 'after demotion' },
      }),
      403,
      'ACME_RBAC_FORBIDDEN',
    )
    expect(await title(target)).toBe('while admin')
    // What the creator still holds and the key's scopes share, it keeps.
    expect((await withKey(key, { url: '/docs' })).statusCode).toBe(200)

    // Promoted again, the key follows too.
    expect((await setRoles(a.owner, a.tenantId, creator.userId, ['admin'])).statusCode).toBe(200)
    expect(
      (
        await withKey(key, {
          method: 'PATCH',
          url: `/docs/${target}`,
          payload: { title: 'admin again' },
        })
      ).statusCode,
    ).toBe(200)
  })

  it("narrowing the creator's custom role: the key follows on the next request", async () => {
    const role = await call(t, a.owner, a.tenantId, {
      method: 'POST',
      url: '/rbac/roles',
      payload: { name: 'key-writer', permissions: ['docs:read', 'docs:write'] },
    })
    expect(role.statusCode, role.body).toBe(201)
    const creator = await member(t, a.tenantId, 'role-key-creator', ['key-writer'])
    const key = await boundKey(creator, a.tenantId, ['docs:*'])
    expect(
      (await withKey(key, { method: 'POST', url: '/docs', payload: { title: 'k1' } })).statusCode,
    ).toBe(201)
    const narrowed = await call(t, a.owner, a.tenantId, {
      method: 'PATCH',
      url: `/rbac/roles/${role.json().id}`,
      payload: { permissions: ['docs:read'] },
    })
    expect(narrowed.statusCode).toBe(200)
    expectProblem(
      await withKey(key, { method: 'POST', url: '/docs', payload: { title: 'k2' } }),
      403,
      'ACME_RBAC_FORBIDDEN',
    )
  })

  it('removing the creator from the tenant: the key is refused there at once', async () => {
    const creator = await member(t, a.tenantId, 'leaver', ['admin'])
    const key = await tenantKey(creator, a.tenantId, ['docs:read'])
    expect((await withKey(key, { url: '/docs' })).statusCode).toBe(200)
    const removed = await call(t, a.owner, undefined, {
      method: 'DELETE',
      url: `/tenants/${a.tenantId}/members/${creator.userId}`,
    })
    expect(removed.statusCode, removed.body).toBe(204)
    expectProblem(await withKey(key, { url: '/docs' }), 404, 'ACME_TENANCY_TENANT_NOT_FOUND')
  })
})
