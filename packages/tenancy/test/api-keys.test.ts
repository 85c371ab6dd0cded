import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  createTenancyApp,
  createTenant,
  signUp,
  type TenancyTestApp,
} from './support/app.js'
import { notesRoutes } from './support/notes-routes.js'

let t: TenancyTestApp
let owner: { userId: string; token: string }
let member: { userId: string; token: string }
let outsider: { userId: string; token: string }
let tenant: { id: string }
let other: { id: string }

const as = (token: string, tenantId: string) => ({ ...bearer(token), 'x-tenant-id': tenantId })

async function storedKeys(): Promise<Array<{ key_hash: string; tenant_id: string | null }>> {
  const client = new pg.Client({ connectionString: t.db.owner.url })
  await client.connect()
  try {
    return (await client.query('SELECT key_hash, tenant_id FROM api_keys')).rows
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  t = await createTenancyApp({}, { label: 'tenantkeys', routes: notesRoutes })
  owner = await signUp(t, 'owner@keys.test')
  member = await signUp(t, 'member@keys.test')
  outsider = await signUp(t, 'outsider@keys.test')
  tenant = await createTenant(t, owner.token, 'Keys')
  other = await createTenant(t, outsider.token, 'Other')
  await t.app.tenancy.tenants.addMember(tenant.id, member.userId, ['member'])
  await t.app.inject({
    method: 'POST',
    url: '/notes',
    headers: as(owner.token, tenant.id),
    payload: { title: 'for the robot' },
  })
})

afterAll(async () => {
  await t?.close()
})

describe("a tenant's API keys", () => {
  it('are created bound to the tenant, shown once, stored hashed, and work only there', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/api-keys`,
      headers: as(owner.token, tenant.id),
      payload: { name: 'ci robot', scopes: ['notes:read'] },
    })
    expect(created.statusCode).toBe(201)
    const { key, id, ownerId } = created.json<{ key: string; id: string; ownerId: string }>()
    expect(ownerId).toBe(owner.userId)
    const stored = await storedKeys()
    expect(stored.some((row) => row.key_hash === key)).toBe(false)
    expect(stored.filter((row) => row.tenant_id === tenant.id)).toHaveLength(1)

    const read = await t.app.inject({ url: '/notes', headers: { 'x-api-key': key } })
    expect(read.statusCode).toBe(200)
    expect(read.json().items.map((note: { title: string }) => note.title)).toEqual([
      'for the robot',
    ])
    const elsewhere = await t.app.inject({
      url: '/notes',
      headers: { 'x-api-key': key, 'x-tenant-id': other.id },
    })
    expect(elsewhere.statusCode).toBe(404)

    const listed = await t.app.inject({
      url: `/tenants/${tenant.id}/api-keys`,
      headers: as(owner.token, tenant.id),
    })
    expect(listed.json().items.map((item: { id: string }) => item.id)).toEqual([id])
    expect(listed.body).not.toContain(key)

    const byKey = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/api-keys`,
      headers: { 'x-api-key': key },
      payload: { name: 'minted by a key' },
    })
    expect(byKey.statusCode).toBe(403)

    const foreign = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${other.id}/api-keys/${id}`,
      headers: as(outsider.token, other.id),
    })
    expect(foreign.statusCode).toBe(404)
    const unknown = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/api-keys/${randomUUID()}`,
      headers: as(owner.token, tenant.id),
    })
    expect(unknown.statusCode).toBe(404)

    const revoked = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}/api-keys/${id}`,
      headers: as(owner.token, tenant.id),
    })
    expect(revoked.statusCode).toBe(204)
    const after = await t.app.inject({ url: '/notes', headers: { 'x-api-key': key } })
    expect(after.statusCode).toBe(401)
  })

  it('are managed by owners and admins only', async () => {
    const denied = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/api-keys`,
      headers: as(member.token, tenant.id),
      payload: { name: 'mine' },
    })
    expect(denied.statusCode).toBe(403)
    const list = await t.app.inject({
      url: `/tenants/${tenant.id}/api-keys`,
      headers: as(member.token, tenant.id),
    })
    expect(list.statusCode).toBe(403)
  })

  it('refuse bad input and store nothing', async () => {
    const before = (await storedKeys()).length
    for (const payload of [
      {},
      { name: '' },
      { name: 'x', scopes: 'all' },
      { name: 'x', tenantId: other.id },
      { name: 'x', expiresAt: '2000-01-01T00:00:00Z' },
    ]) {
      const response = await t.app.inject({
        method: 'POST',
        url: `/tenants/${tenant.id}/api-keys`,
        headers: as(owner.token, tenant.id),
        payload,
      })
      expect(response.statusCode, JSON.stringify(payload)).toBe(400)
    }
    expect((await storedKeys()).length).toBe(before)
  })
})
