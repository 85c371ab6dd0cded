import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  bearer,
  createTenancyApp,
  createTenancyDatabase,
  createTenant,
  signUp,
  type TenancyDatabase,
  type TenancyTestApp,
} from './support/app.js'
import { comparable } from './support/compare.js'
import { notesRoutes } from './support/notes-routes.js'

/**
 * `rls: false`: a deployment that turned row-level security off knowingly (its tables have no
 * policies). The scoped client is then the only wall between tenants, and must hold on its own.
 */

let db: TenancyDatabase
let t: TenancyTestApp
type Caller = { token: string; tenantId: string }
let a: Caller
let b: Caller
let bNote: { id: string }

const as = (caller: Caller) => ({ ...bearer(caller.token), 'x-tenant-id': caller.tenantId })

async function onDatabase<T extends Record<string, unknown>>(
  url: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<T>(sql, params)).rows
  } finally {
    await client.end()
  }
}

const allNotes = () =>
  onDatabase<{ id: string; tenant_id: string; title: string }>(
    db.owner.url,
    'SELECT id, tenant_id, title FROM notes ORDER BY id',
  )

async function addNote(caller: Caller, title: string) {
  const response = await t.app.inject({
    method: 'POST',
    url: '/notes',
    headers: as(caller),
    payload: { title },
  })
  expect(response.statusCode).toBe(201)
  return response.json<{ id: string; tenantId: string }>()
}

beforeAll(async () => {
  db = await createTenancyDatabase('rlsoff')
  const tables = await onDatabase<{ name: string }>(
    db.owner.url,
    "SELECT relname AS name FROM pg_class WHERE relrowsecurity AND relkind = 'r'",
  )
  for (const { name } of tables) {
    await onDatabase(db.owner.url, `ALTER TABLE "${name}" NO FORCE ROW LEVEL SECURITY`)
    await onDatabase(db.owner.url, `ALTER TABLE "${name}" DISABLE ROW LEVEL SECURITY`)
  }
  t = await createTenancyApp(
    { rls: false },
    { label: 'rlsoff', database: db, routes: notesRoutes, core: { rateLimit: false } },
  )
  for (const [name, assign] of [
    ['a', (caller: Caller) => (a = caller)],
    ['b', (caller: Caller) => (b = caller)],
  ] as const) {
    const user = await signUp(t, `${name}@rlsoff.test`)
    const tenant = await createTenant(t, user.token, `RLS off ${name}`)
    assign({ token: user.token, tenantId: tenant.id })
  }
  await addNote(a, 'a-1')
  bNote = await addNote(b, 'b-1')
})

afterAll(async () => {
  await t?.close()
  await db?.drop()
})

describe('startup', () => {
  it('starts without the doctor and says so in the logs', () => {
    expect(t.app.tenancy.rls).toBe(false)
    const warning = t.logs.find(
      (line) =>
        line.level === 40 &&
        line.msg === 'tenancy: row-level security is off; only the scoped client isolates tenants',
    )
    expect(warning).toBeDefined()
    expect(t.rawLogs()).not.toMatch(/tenancy doctor/)
  })

  it('would be refused by the doctor with rls on, and the database alone isolates nothing', async () => {
    await expect(createTenancyApp({}, { database: db, label: 'rlsoff_doctor' })).rejects.toThrow(
      /doctor refuses to start/,
    )
    const seen = await onDatabase<{ n: number }>(
      db.app.url,
      'SELECT count(DISTINCT tenant_id)::int AS n FROM notes',
    )
    expect(seen).toEqual([{ n: 2 }])
  })
})

describe('the scoped client alone', () => {
  it('lists only the tenant’s rows', async () => {
    const list = await t.app.inject({ url: '/notes', headers: as(a) })
    expect(list.statusCode).toBe(200)
    const items = list.json<{ items: Array<{ tenantId: string; title: string }> }>().items
    expect(items.map((item) => item.title)).toEqual(['a-1'])
  })

  it('answers another tenant’s row like a missing one for get, update and delete, changing nothing', async () => {
    const before = await allNotes()
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const probe = (id: string) =>
        t.app.inject({
          method,
          url: `/notes/${id}`,
          headers: as(a),
          ...(method === 'PATCH' ? { payload: { title: 'pwned' } } : {}),
        })
      const foreign = await probe(bNote.id)
      const missing = await probe(randomUUID())
      expect(foreign.statusCode, method).toBe(404)
      expect(comparable(foreign)).toEqual(comparable(missing))
    }
    expect(await allNotes()).toEqual(before)
  })

  it('creates in the caller’s tenant whatever the body says', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/notes',
      headers: as(a),
      payload: { title: 'smuggled', tenantId: b.tenantId },
    })
    expect(response.statusCode).toBe(201)
    expect(response.json().tenantId).toBe(a.tenantId)
    const stored = (await allNotes()).filter((row) => row.title === 'smuggled')
    expect(stored.map((row) => row.tenant_id)).toEqual([a.tenantId])
  })

  it('rolls back an interactive transaction that fails midway', async () => {
    const before = await allNotes()
    const failed = await t.app.inject({
      method: 'POST',
      url: '/notes/batch',
      headers: as(a),
      payload: { titles: ['t1', 't2', 't3'], failAfter: 2 },
    })
    expect(failed.statusCode).toBe(500)
    expect(await allNotes()).toEqual(before)
    const ok = await t.app.inject({
      method: 'POST',
      url: '/notes/batch',
      headers: as(a),
      payload: { titles: ['t1', 't2'] },
    })
    expect(ok.statusCode).toBe(201)
    const added = (await allNotes()).filter((row) => ['t1', 't2'].includes(row.title))
    expect(added.map((row) => row.tenant_id)).toEqual([a.tenantId, a.tenantId])
  })

  it('scopes work outside a request too (withTenant)', async () => {
    const titles = await t.app.tenancy.withTenant(b.tenantId, async (scoped) =>
      (await scoped.note.findMany()).map((note) => note.title),
    )
    expect(titles).toEqual(['b-1'])
  })
})

describe('raw SQL', () => {
  it('is refused with a generic 500 that names no query, and logged with its reason', async () => {
    for (const url of ['/notes-raw', '/tenant-setting']) {
      const response = await t.app.inject({ url, headers: as(a) })
      expect(response.statusCode, url).toBe(500)
      expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
      const body = response.json<Record<string, unknown>>()
      expect(body).toEqual({
        type: expect.stringMatching(/acme-tenancy-raw-sql-unscoped$/),
        title: 'Internal Server Error',
        status: 500,
        detail: 'An unexpected error occurred. Quote the request id when you contact support.',
        instance: url,
        code: 'ACME_TENANCY_RAW_SQL_UNSCOPED',
        requestId: expect.any(String),
      })
      expect(response.body).not.toMatch(/SELECT|current_setting|rls|row-level|\.ts|at /i)
      const logged = t.logs.find(
        (line) => line.reqId === body.requestId && line.msg === 'request failed',
      )
      expect(logged).toMatchObject({ level: 50, code: 'ACME_TENANCY_RAW_SQL_UNSCOPED' })
      expect(JSON.stringify(logged)).toContain(
        '$queryRaw through the tenant-scoped client is refused',
      )
    }
  })
})
