import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  createTenancyApp,
  createTenant,
  signUp,
  type TenancyTestApp,
} from './support/app.js'
import { comparable } from './support/compare.js'
import { notesRoutes } from './support/notes-routes.js'

let t: TenancyTestApp
let alice: { token: string }
let bob: { token: string }
let alpha: { id: string; slug: string }
let beta: { id: string; slug: string }

beforeAll(async () => {
  t = await createTenancyApp(
    { resolvers: ['header', { type: 'subdomain', baseDomain: 'app.initech.test' }] },
    { label: 'resolvers', routes: notesRoutes },
  )
  alice = await signUp(t, 'alice@resolvers.test')
  bob = await signUp(t, 'bob@resolvers.test')
  alpha = await createTenant(t, alice.token, 'Alpha')
  beta = await createTenant(t, bob.token, 'Beta')
  await t.app.inject({
    method: 'POST',
    url: '/notes',
    headers: { ...bearer(alice.token), 'x-tenant-id': alpha.id },
    payload: { title: 'alpha note' },
  })
})

afterAll(async () => {
  await t?.close()
})

const onHost = (host: string, token: string) => ({ ...bearer(token), host })

describe('the subdomain resolver', () => {
  it('resolves the tenant from <slug>.<base domain> for a member', async () => {
    const response = await t.app.inject({
      url: '/notes',
      headers: onHost(`${alpha.slug}.app.initech.test`, alice.token),
    })
    expect(response.statusCode).toBe(200)
    expect(response.json().items.map((note: { title: string }) => note.title)).toEqual([
      'alpha note',
    ])
  })

  it('answers another tenant’s subdomain like an unknown one', async () => {
    const foreign = await t.app.inject({
      url: '/notes',
      headers: onHost(`${alpha.slug}.app.initech.test`, bob.token),
    })
    const unknown = await t.app.inject({
      url: '/notes',
      headers: onHost('no-such-tenant.app.initech.test', bob.token),
    })
    expect(foreign.statusCode).toBe(404)
    expect(comparable(foreign)).toEqual(comparable(unknown))
  })

  it('ignores hosts outside the base domain, so the route asks for a tenant', async () => {
    const response = await t.app.inject({
      url: '/notes',
      headers: onHost(`${alpha.slug}.app.initech.test.evil.test`, alice.token),
    })
    expect(response.statusCode).toBe(400)
    expect(response.json().code).toBe('ACME_TENANCY_TENANT_REQUIRED')
  })

  it('follows a slug change at once: the old subdomain stops naming the tenant', async () => {
    const tenant = await createTenant(t, alice.token, 'Renamed')
    const before = await t.app.inject({
      url: '/notes',
      headers: onHost(`${tenant.slug}.app.initech.test`, alice.token),
    })
    expect(before.statusCode).toBe(200)
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/tenants/${tenant.id}`,
      headers: { ...bearer(alice.token), 'x-tenant-id': tenant.id },
      payload: { slug: `${tenant.slug}-new` },
    })
    expect(patched.statusCode).toBe(200)
    const old = await t.app.inject({
      url: '/notes',
      headers: onHost(`${tenant.slug}.app.initech.test`, alice.token),
    })
    expect(old.statusCode).toBe(404)
    const renamed = await t.app.inject({
      url: '/notes',
      headers: onHost(`${tenant.slug}-new.app.initech.test`, alice.token),
    })
    expect(renamed.statusCode).toBe(200)
  })

  it('lets an earlier resolver win: the header names the tenant before the subdomain', async () => {
    const response = await t.app.inject({
      url: '/notes',
      headers: { ...onHost(`${alpha.slug}.app.initech.test`, bob.token), 'x-tenant-id': beta.id },
    })
    expect(response.statusCode).toBe(200)
    expect(response.json().items).toEqual([])
  })
})
