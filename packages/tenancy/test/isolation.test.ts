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
import { comparable } from './support/compare.js'
import { notesRoutes } from './support/notes-routes.js'

let t: TenancyTestApp
let alice: { userId: string; token: string }
let bob: { userId: string; token: string }
let tenantA: { id: string }
let tenantB: { id: string }

const as = (token: string, tenantId: string) => ({ ...bearer(token), 'x-tenant-id': tenantId })

async function addNote(token: string, tenantId: string, title: string) {
  const response = await t.app.inject({
    method: 'POST',
    url: '/notes',
    headers: as(token, tenantId),
    payload: { title },
  })
  expect(response.statusCode).toBe(201)
  return response.json<{ id: string; tenantId: string; title: string }>()
}

/** Every row of `notes`, read by the migration owner (no policies apply to it). */
async function allNotes(): Promise<Array<{ id: string; tenant_id: string; title: string }>> {
  const client = new pg.Client({ connectionString: t.db.owner.url })
  await client.connect()
  try {
    const { rows } = await client.query('SELECT id, tenant_id, title FROM notes ORDER BY id')
    return rows
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  t = await createTenancyApp({}, { label: 'isolation', routes: notesRoutes })
  alice = await signUp(t, 'alice@a.test')
  bob = await signUp(t, 'bob@b.test')
  tenantA = await createTenant(t, alice.token, 'Alpha')
  tenantB = await createTenant(t, bob.token, 'Beta')
})

afterAll(async () => {
  await t?.close()
})

describe('the scoped client', () => {
  it('lists only the tenant’s own rows', async () => {
    await addNote(alice.token, tenantA.id, 'a1')
    await addNote(bob.token, tenantB.id, 'b1')
    const list = await t.app.inject({ url: '/notes', headers: as(alice.token, tenantA.id) })
    expect(list.statusCode).toBe(200)
    const titles = list.json<{ items: Array<{ title: string; tenantId: string }> }>().items
    expect(titles.map((n) => n.title)).toContain('a1')
    expect(titles.every((n) => n.tenantId === tenantA.id)).toBe(true)
  })

  it('answers another tenant’s row with the same 404 as a missing one, and changes nothing', async () => {
    const theirs = await addNote(bob.token, tenantB.id, 'b-secret')
    const before = JSON.stringify(await allNotes())
    const probe = async (method: 'GET' | 'PATCH' | 'DELETE', id: string) =>
      t.app.inject({
        method,
        url: `/notes/${id}`,
        headers: as(alice.token, tenantA.id),
        ...(method === 'PATCH' ? { payload: { title: 'pwned' } } : {}),
      })
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const foreign = await probe(method, theirs.id)
      const missing = await probe(method, randomUUID())
      expect(foreign.statusCode, method).toBe(404)
      expect(comparable(foreign)).toEqual(comparable(missing))
    }
    expect(JSON.stringify(await allNotes())).toBe(before)
  })

  it('creates in the caller’s tenant whatever tenant id the body names', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/notes',
      headers: as(alice.token, tenantA.id),
      payload: { title: 'smuggled', tenantId: tenantB.id },
    })
    expect(response.statusCode).toBe(201)
    expect(response.json().tenantId).toBe(tenantA.id)
    const stored = (await allNotes()).find((row) => row.title === 'smuggled')
    expect(stored?.tenant_id).toBe(tenantA.id)
  })

  it('refuses a tenant the caller is not a member of with the 404 of an unknown tenant', async () => {
    const foreign = await t.app.inject({ url: '/notes', headers: as(alice.token, tenantB.id) })
    const unknown = await t.app.inject({ url: '/notes', headers: as(alice.token, randomUUID()) })
    expect(foreign.statusCode).toBe(404)
    expect(foreign.json().code).toBe('ACME_TENANCY_TENANT_NOT_FOUND')
    expect(comparable(foreign)).toEqual(comparable(unknown))
  })

  it('throws instead of querying unscoped when the request names no tenant', async () => {
    const response = await t.app.inject({ url: '/no-tenant-db', headers: bearer(alice.token) })
    expect(response.statusCode).toBe(400)
    expect(response.json().code).toBe('ACME_TENANCY_TENANT_REQUIRED')
  })

  it('keeps raw SQL scoped by the database policies', async () => {
    const response = await t.app.inject({ url: '/notes-raw', headers: as(alice.token, tenantA.id) })
    expect(response.statusCode).toBe(200)
    const titles = response.json<{ titles: string[] }>().titles
    expect(titles).toContain('a1')
    expect(titles).not.toContain('b1')
    expect(titles).not.toContain('b-secret')
  })

  it('rolls back an interactive transaction that fails midway, inside the request transaction', async () => {
    const before = (await allNotes()).length
    const failed = await t.app.inject({
      method: 'POST',
      url: '/notes/batch',
      headers: as(alice.token, tenantA.id),
      payload: { titles: ['t1', 't2', 't3'], failAfter: 2 },
    })
    expect(failed.statusCode).toBe(500)
    expect((await allNotes()).length).toBe(before)
    const ok = await t.app.inject({
      method: 'POST',
      url: '/notes/batch',
      headers: as(alice.token, tenantA.id),
      payload: { titles: ['t1', 't2'] },
    })
    expect(ok.statusCode).toBe(201)
    expect((await allNotes()).length).toBe(before + 2)
  })
})

describe('the database role', () => {
  async function asAppRole<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: t.db.app.url })
    await client.connect()
    try {
      return await work(client)
    } finally {
      await client.end()
    }
  }

  it('reads no tenant rows with no tenant set', async () => {
    expect((await allNotes()).length).toBeGreaterThan(0)
    const count = await asAppRole(async (client) => {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM notes')
      return rows[0].n as number
    })
    expect(count).toBe(0)
  })

  it('refuses a write for another tenant than the one set', async () => {
    await expect(
      asAppRole(async (client) => {
        await client.query('BEGIN')
        try {
          await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantA.id])
          await client.query('INSERT INTO notes (id, tenant_id, title) VALUES ($1, $2, $3)', [
            randomUUID(),
            tenantB.id,
            'cross',
          ])
        } finally {
          await client.query('ROLLBACK')
        }
      }),
    ).rejects.toMatchObject({ code: '42501' })
  })

  it('is not a superuser, cannot bypass RLS and owns no table', async () => {
    const role = await asAppRole(async (client) => {
      const { rows } = await client.query(
        `SELECT r.rolsuper, r.rolbypassrls,
                (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owned
           FROM pg_roles r WHERE r.rolname = current_user`,
      )
      return rows[0]
    })
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false, owned: 0 })
  })
})
