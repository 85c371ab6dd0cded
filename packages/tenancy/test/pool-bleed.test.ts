import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  bearer,
  createTenancyApp,
  createTenant,
  signUp,
  type TenancyTestApp,
} from './support/app.js'
import { notesRoutes } from './support/notes-routes.js'

let t: TenancyTestApp
const tenants: Array<{ id: string; token: string }> = []

/**
 * The setting as the pool's only connection sees it between requests: app.prisma and request.db
 * share that one connection (PrismaPg on a pg.Pool of one), so this reads the very connection
 * every request's statements ran on.
 */
async function settingBetweenRequests(): Promise<string | null> {
  const rows = await t.app.prisma.$queryRaw<Array<{ setting: string | null }>>`
    SELECT current_setting('app.tenant_id', true) AS setting`
  return rows[0]?.setting ?? null
}

beforeAll(async () => {
  t = await createTenancyApp(
    { rateLimit: { enabled: false } },
    { label: 'poolbleed', routes: notesRoutes, sharedPool: 1, core: { rateLimit: false } },
  )
  for (const name of ['a', 'b']) {
    const user = await signUp(t, `${name}@pool.test`)
    const tenant = await createTenant(t, user.token, `Tenant ${name}`)
    const headers = { ...bearer(user.token), 'x-tenant-id': tenant.id }
    for (const title of [`${name}-1`, `${name}-2`]) {
      await t.app.inject({ method: 'POST', url: '/notes', headers, payload: { title } })
    }
    tenants.push({ id: tenant.id, token: user.token })
  }
})

afterAll(async () => {
  await t?.close()
})

async function listAs(index: number) {
  const tenant = tenants[index % 2]
  if (!tenant) throw new Error('no tenant')
  const response = await t.app.inject({
    url: '/notes',
    headers: { ...bearer(tenant.token), 'x-tenant-id': tenant.id },
  })
  expect(response.statusCode).toBe(200)
  const items = response.json<{ items: Array<{ tenantId: string }> }>().items
  expect(items).toHaveLength(2)
  expect(items.every((item) => item.tenantId === tenant.id)).toBe(true)
}

it('never carries a tenant into the next request on a pool of one connection', async () => {
  for (let i = 0; i < 500; i++) {
    await listAs(i)
    expect(await settingBetweenRequests()).toBeFalsy()
  }
})

it('keeps 50 concurrent requests on one connection apart', async () => {
  await Promise.all(Array.from({ length: 50 }, (_, i) => listAs(i)))
  expect(await settingBetweenRequests()).toBeFalsy()
})
