import { afterAll, beforeAll, expect, it } from 'vitest'
import { bearer, createRbacApp, createTenant, type RbacTestApp, signUp } from './support/app.js'

let t: RbacTestApp

beforeAll(async () => {
  t = await createRbacApp({}, { label: 'rbacsmoke' })
})
afterAll(async () => {
  await t?.close()
})

it('lets an owner list roles and a non-member nothing', async () => {
  const owner = await signUp(t, 'owner@smoke.test')
  const tenant = await createTenant(t, owner.token, 'Smoke')
  const headers = { ...bearer(owner.token), 'x-tenant-id': tenant.id }
  const roles = await t.app.inject({ url: '/rbac/roles', headers })
  expect(roles.statusCode, roles.body).toBe(200)
  expect(roles.json().items.map((role: { name: string }) => role.name)).toContain('owner')
  const me = await t.app.inject({ url: '/rbac/me/permissions', headers })
  expect(me.statusCode, me.body).toBe(200)
  expect(me.json().roles).toEqual(['owner'])
  const created = await t.app.inject({
    method: 'POST',
    url: '/rbac/roles',
    headers,
    payload: { name: 'inviter', permissions: ['members:invite'], inherits: 'viewer' },
  })
  expect(created.statusCode, created.body).toBe(201)
})
