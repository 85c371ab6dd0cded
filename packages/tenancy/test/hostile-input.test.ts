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

const as = (token: string, tenantId: string) => ({ ...bearer(token), 'x-tenant-id': tenantId })
const hostile = ['a\u0000b', 'x\ud800y', 'bell\u0007'] as const

beforeAll(async () => {
  t = await createTenancyApp({}, { label: 'hostile', routes: notesRoutes })
  owner = await signUp(t, 'owner@hostile.test')
})
afterAll(async () => {
  await t?.close()
})

describe('strings a database cannot store, or no honest client sends', () => {
  it.each(hostile)('refuses %j as a tenant name with 400, creating nothing', async (name) => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/tenants',
      headers: bearer(owner.token),
      payload: { name },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({
      code: 'ACME_CORE_VALIDATION_FAILED',
      errors: [expect.objectContaining({ pointer: '/name' })],
    })
    const mine = await t.app.inject({ url: '/tenants', headers: bearer(owner.token) })
    expect(mine.json().items).toEqual([])
  })

  it('refuses them in a rename, in settings at any depth and in API key names and scopes', async () => {
    const tenant = await createTenant(t, owner.token, 'Kept')
    const attempts = [
      { method: 'PATCH', url: `/tenants/${tenant.id}`, payload: { name: 'x\u0000' } },
      {
        method: 'PATCH',
        url: `/tenants/${tenant.id}`,
        payload: { settings: { theme: { accent: ['ok', 'x\u0000'] } } },
      },
      { method: 'PATCH', url: `/tenants/${tenant.id}`, payload: { settings: { 'k\ud800': 1 } } },
      { method: 'POST', url: `/tenants/${tenant.id}/api-keys`, payload: { name: 'x\ud800' } },
      {
        method: 'POST',
        url: `/tenants/${tenant.id}/api-keys`,
        payload: { name: 'ci', scopes: ['notes:read\u0000'] },
      },
    ] as const
    for (const attempt of attempts) {
      const response = await t.app.inject({ ...attempt, headers: as(owner.token, tenant.id) })
      expect(response.statusCode, JSON.stringify(attempt.payload)).toBe(400)
      expect(response.json().code).toBe('ACME_CORE_VALIDATION_FAILED')
    }
    const stored = await t.app.tenancy.tenants.get(tenant.id)
    expect(stored).toMatchObject({ name: 'Kept', settings: {} })
    const keys = await t.app.inject({
      url: `/tenants/${tenant.id}/api-keys`,
      headers: as(owner.token, tenant.id),
    })
    expect(keys.json().items).toEqual([])
  })
})

describe('a tenant deleted by parallel requests', () => {
  it('answers one 204 and, for the others, the 404 an unknown tenant gets', async () => {
    const tenant = await createTenant(t, owner.token, 'Raced')
    const responses = await Promise.all(
      Array.from({ length: 5 }, () =>
        t.app.inject({
          method: 'DELETE',
          url: `/tenants/${tenant.id}`,
          headers: as(owner.token, tenant.id),
        }),
      ),
    )
    const statuses = responses.map((response) => response.statusCode).sort()
    expect(statuses).toEqual([204, 404, 404, 404, 404])
    const unknown = await t.app.inject({
      method: 'DELETE',
      url: `/tenants/${tenant.id}`,
      headers: as(owner.token, tenant.id),
    })
    for (const response of responses.filter((each) => each.statusCode === 404)) {
      expect(response.json().code).toBe(unknown.json().code)
    }
  })
})

describe('a tenant API key on routes that act for a person', () => {
  it('gets 403 on POST /tenants, PATCH /auth/me and POST /auth/logout-all', async () => {
    const tenant = await createTenant(t, owner.token, 'Keyed')
    const created = await t.app.inject({
      method: 'POST',
      url: `/tenants/${tenant.id}/api-keys`,
      headers: as(owner.token, tenant.id),
      payload: { name: 'robot', scopes: ['notes:read'] },
    })
    const key = { 'x-api-key': created.json().key as string }
    for (const request of [
      { method: 'POST', url: '/tenants', payload: { name: 'Minted by a key' } },
      { method: 'PATCH', url: '/auth/me', payload: { name: 'Renamed by a key' } },
      { method: 'POST', url: '/auth/logout-all' },
      { method: 'GET', url: '/tenants' },
      { method: 'DELETE', url: `/tenants/${tenant.id}/membership` },
      { method: 'POST', url: `/tenants/${tenant.id}/switch` },
    ] as const) {
      const response = await t.app.inject({ ...request, headers: key })
      expect(response.statusCode, request.url).toBe(403)
      expect(response.json().code).toBe('ACME_AUTH_API_KEY_NOT_ALLOWED')
    }
    const tenants = await t.app.inject({ url: '/tenants', headers: bearer(owner.token) })
    expect(tenants.json().items.map((item: { name: string }) => item.name)).not.toContain(
      'Minted by a key',
    )
    const own = await t.app.inject({ url: `/tenants/${tenant.id}`, headers: key })
    expect(own.statusCode).toBe(200)
  })
})
