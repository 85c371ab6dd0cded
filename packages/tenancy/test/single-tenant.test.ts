import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  createTenancyApp,
  createTenancyDatabase,
  signUp,
  type TenancyDatabase,
  type TenancyTestApp,
} from './support/app.js'
import { notesRoutes } from './support/notes-routes.js'

/** `mode: 'single'`: one implicit tenant, no tenant routes, the same isolation code path. */

const SINGLE = { mode: 'single', singleTenant: { slug: 'initech', name: 'Initech' } } as const

let db: TenancyDatabase
let first: TenancyTestApp
let second: TenancyTestApp
let alice: { userId: string; token: string }
let tenantId: string

async function routes(app: FastifyInstance) {
  await notesRoutes(app)
  const schema = { tags: ['single'] }
  app.get('/whoami', { schema, config: { auth: 'required' } }, async (request) => ({
    tenant: request.tenant,
  }))
  // A public page reading tenant data: an anonymous caller must not get a tenant for it.
  app.get(
    '/public-notes',
    { schema, config: { auth: 'optional', tenant: 'required' } },
    async (request) => ({ count: await request.db.note.count() }),
  )
}

async function asOwner<T extends Record<string, unknown>>(sql: string, params: unknown[] = []) {
  const client = new pg.Client({ connectionString: db.owner.url })
  await client.connect()
  try {
    return (await client.query<T>(sql, params)).rows
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  db = await createTenancyDatabase('single')
  // Two instances of one deployment starting at the same time on an empty database.
  const start = (label: string) =>
    createTenancyApp(SINGLE, { label, database: db, routes, core: { rateLimit: false } })
  ;[first, second] = await Promise.all([start('single_1'), start('single_2')])
  alice = await signUp(first, 'alice@single.test')
  const [row] = await asOwner<{ id: string }>("SELECT id FROM tenants WHERE slug = 'initech'")
  if (!row) throw new Error('no implicit tenant')
  tenantId = row.id
})

afterAll(async () => {
  await first?.close()
  await second?.close()
  await db?.drop()
})

describe('the implicit tenant', () => {
  it('is created once at startup, even by two instances starting together', async () => {
    const rows = await asOwner('SELECT slug, name, plan, status FROM tenants')
    expect(rows).toEqual([{ slug: 'initech', name: 'Initech', plan: 'starter', status: 'active' }])
    // A restart finds it.
    const third = await createTenancyApp(SINGLE, { label: 'single_3', database: db, routes })
    try {
      const bob = await signUp(third, 'bob@single.test')
      const response = await third.app.inject({ url: '/whoami', headers: bearer(bob.token) })
      expect(response.json().tenant.id).toBe(tenantId)
    } finally {
      await third.close()
    }
    expect(await asOwner('SELECT id FROM tenants')).toEqual([{ id: tenantId }])
  })

  it('is every authenticated request’s tenant, without a header, on every instance', async () => {
    for (const t of [first, second]) {
      // Each test instance signs its own tokens: sign in on it.
      const { token } = await signUp(t, 'alice@single.test')
      const response = await t.app.inject({ url: '/whoami', headers: bearer(token) })
      expect(response.statusCode).toBe(200)
      expect(response.json().tenant).toEqual({
        id: tenantId,
        slug: 'initech',
        plan: 'starter',
        roles: [],
      })
    }
  })

  it('carries the caller’s roles once they are a member', async () => {
    await first.app.tenancy.tenants.addMember(tenantId, alice.userId, ['admin'])
    const response = await first.app.inject({ url: '/whoami', headers: bearer(alice.token) })
    expect(response.json().tenant.roles).toEqual(['admin'])
  })

  it('is not given to anonymous requests', async () => {
    const anonymous = await first.app.inject({ url: '/public-notes' })
    expect(anonymous.statusCode).toBe(400)
    expect(anonymous.json().code).toBe('ACME_TENANCY_TENANT_REQUIRED')
    const signedIn = await first.app.inject({ url: '/public-notes', headers: bearer(alice.token) })
    expect(signedIn.statusCode).toBe(200)
  })
})

describe('tenant routes', () => {
  it.each([
    ['POST', '/tenants'],
    ['GET', '/tenants'],
    ['GET', '/tenants/:id'],
    ['PATCH', '/tenants/:id'],
    ['DELETE', '/tenants/:id'],
    ['POST', '/tenants/:id/switch'],
    ['GET', '/tenants/:id/members'],
    ['POST', '/tenants/:id/invitations'],
    ['GET', '/tenants/:id/invitations'],
    ['POST', '/invitations/accept'],
  ] as const)('%s %s is not exposed', async (method, path) => {
    const response = await first.app.inject({
      method,
      url: path.replace(':id', tenantId),
      headers: bearer(alice.token),
      ...(method === 'GET' || method === 'DELETE' ? {} : { payload: { name: 'x' } }),
    })
    expect(response.statusCode).toBe(404)
    expect(response.json().code).toBe('ACME_CORE_ROUTE_NOT_FOUND')
  })

  it('are absent from the OpenAPI document', () => {
    const document = first.app.swagger() as { paths?: Record<string, unknown> }
    const paths = Object.keys(document.paths ?? {})
    expect(paths).toContain('/notes')
    expect(paths.filter((path) => /tenants|invitations/.test(path))).toEqual([])
  })
})

describe('isolation', () => {
  let otherTenant: string
  let otherNote: string

  beforeAll(async () => {
    // Rows of another tenant in the same database (a migration, a neighbour deployment).
    otherTenant = randomUUID()
    otherNote = randomUUID()
    await asOwner(
      "INSERT INTO tenants (id, name, slug, plan, updated_at) VALUES ($1, 'Other', 'other', 'pro', now())",
      [otherTenant],
    )
    await asOwner("INSERT INTO notes (id, tenant_id, title) VALUES ($1, $2, 'theirs')", [
      otherNote,
      otherTenant,
    ])
  })

  it('scopes request.db: creates land in the implicit tenant whatever the body says', async () => {
    const created = await first.app.inject({
      method: 'POST',
      url: '/notes',
      headers: bearer(alice.token),
      payload: { title: 'mine', tenantId: otherTenant },
    })
    expect(created.statusCode).toBe(201)
    expect(created.json().tenantId).toBe(tenantId)
    const rows = await asOwner('SELECT tenant_id FROM notes WHERE title = $1', ['mine'])
    expect(rows).toEqual([{ tenant_id: tenantId }])
  })

  it('never shows another tenant’s rows, and ignores a header naming that tenant', async () => {
    for (const headers of [
      bearer(alice.token),
      { ...bearer(alice.token), 'x-tenant-id': otherTenant },
    ]) {
      const list = await first.app.inject({ url: '/notes', headers })
      expect(list.statusCode).toBe(200)
      const items = list.json<{ items: Array<{ tenantId: string; title: string }> }>().items
      expect(items.map((item) => item.title)).toEqual(['mine'])
      const theirs = await first.app.inject({ url: `/notes/${otherNote}`, headers })
      expect(theirs.statusCode).toBe(404)
      const update = await first.app.inject({
        method: 'PATCH',
        url: `/notes/${otherNote}`,
        headers,
        payload: { title: 'pwned' },
      })
      expect(update.statusCode).toBe(404)
    }
    expect(await asOwner('SELECT title FROM notes WHERE id = $1', [otherNote])).toEqual([
      { title: 'theirs' },
    ])
  })

  it('keeps row-level security on: raw SQL sees the implicit tenant only', async () => {
    const raw = await first.app.inject({ url: '/notes-raw', headers: bearer(alice.token) })
    expect(raw.statusCode).toBe(200)
    expect(raw.json().titles).toEqual(['mine'])
    const setting = await first.app.inject({ url: '/tenant-setting', headers: bearer(alice.token) })
    expect(setting.json().setting).toBe(tenantId)
    const client = new pg.Client({ connectionString: db.app.url })
    await client.connect()
    try {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM notes')
      expect(rows).toEqual([{ n: 0 }])
    } finally {
      await client.end()
    }
  })
})
