import { sleep } from '@acme/test-kit'
import { startTcpProxy, type TcpProxy } from '@acme/test-support'
import type { FastifyInstance } from 'fastify'
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

let db: TenancyDatabase
let proxy: TcpProxy
/** The request is one transaction (`transaction.scope: 'request'`). */
let t: TenancyTestApp
/** The default: each statement is its own transaction, sent with the tenant. */
let s: TenancyTestApp
let headers: Record<string, string>
/** The same user on `s` (each app signs its own tokens). */
let sHeaders: Record<string, string>
let tenantId: string

/** Two writes with a pause between them: the pause is where the outage or the delay strikes. */
async function slowWrites(app: FastifyInstance) {
  app.post<{ Body: { title: string; pauseMs: number } }>(
    '/slow-notes',
    { config: { auth: 'required', tenant: 'required' } },
    async (request, reply) => {
      const tenant = request.tenant?.id ?? ''
      await request.db.note.create({ data: { title: `${request.body.title}-1`, tenantId: tenant } })
      await sleep(request.body.pauseMs)
      await request.db.note.create({ data: { title: `${request.body.title}-2`, tenantId: tenant } })
      return reply.code(201).send({ ok: true })
    },
  )
  app.post<{ Body: { title: string; pauseMs: number } }>(
    '/slow-transaction',
    { config: { auth: 'required', tenant: 'required' } },
    async (request, reply) => {
      const tenant = request.tenant?.id ?? ''
      await request.db.$transaction(async (tx) => {
        await tx.note.create({ data: { title: `${request.body.title}-1`, tenantId: tenant } })
        await sleep(request.body.pauseMs)
        await tx.note.create({ data: { title: `${request.body.title}-2`, tenantId: tenant } })
      })
      return reply.code(201).send({ ok: true })
    },
  )
  app.get(
    '/count-notes',
    { config: { auth: 'required', tenant: 'required' } },
    async (request) => ({
      count: await request.db.note.count(),
    }),
  )
}

async function titlesLike(prefix: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: db.owner.url })
  await client.connect()
  try {
    const { rows } = await client.query('SELECT title FROM notes WHERE title LIKE $1', [
      `${prefix}%`,
    ])
    return rows.map((row: { title: string }) => row.title)
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  db = await createTenancyDatabase('outage')
  const url = new URL(db.app.url)
  proxy = await startTcpProxy(url.hostname, Number(url.port || 5432))
  url.host = `127.0.0.1:${proxy.port}`
  const harness = {
    database: { ...db, app: { ...db.app, url: url.toString() } },
    routes: slowWrites,
    core: { rateLimit: false as const },
  }
  t = await createTenancyApp(
    {
      transaction: { scope: 'request', timeoutMs: 1_000, maxWaitMs: 1_000 },
      rateLimit: { enabled: false },
    },
    harness,
  )
  s = await createTenancyApp(
    { transaction: { timeoutMs: 1_000, maxWaitMs: 1_000 }, rateLimit: { enabled: false } },
    harness,
  )
  const user = await signUp(t, 'ops@outage.test')
  tenantId = (await createTenant(t, user.token, 'Outage')).id
  headers = { ...bearer(user.token), 'x-tenant-id': tenantId }
  sHeaders = { ...bearer((await signUp(s, 'ops@outage.test')).token), 'x-tenant-id': tenantId }
})

afterAll(async () => {
  await t?.close()
  await s?.close()
  await proxy?.close()
  await db?.drop()
})

async function recovers(app: FastifyInstance, as: Record<string, string>): Promise<void> {
  const recovered = Date.now()
  let status = 0
  while (Date.now() - recovered < 10_000) {
    status = (await app.inject({ url: '/count-notes', headers: as })).statusCode
    if (status === 200) break
    await sleep(200)
  }
  expect(status).toBe(200)
}

describe('CH-02 with the request transaction', () => {
  it('answers 503 within 5 s when the database goes away mid-request, keeps no partial write, and recovers', async () => {
    const started = Date.now()
    const pending = t.app.inject({
      method: 'POST',
      url: '/slow-notes',
      headers,
      payload: { title: 'cut', pauseMs: 300 },
    })
    await sleep(100)
    await proxy.cut()
    const response = await pending
    expect(response.statusCode).toBe(503)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(response.body).not.toMatch(/ECONNRESET|Prisma|postgres/i)

    await proxy.restore()
    expect(await titlesLike('cut')).toEqual([])
    await recovers(t.app, headers)
  })

  it('rolls the whole request back when it outlives its transaction deadline', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/slow-notes',
      headers,
      payload: { title: 'late', pauseMs: 1_500 },
    })
    expect(response.statusCode).toBeGreaterThanOrEqual(500)
    expect(response.statusCode).not.toBe(201)
    expect(await titlesLike('late')).toEqual([])
    // The connection the expired transaction held serves the next request, tenant-free.
    const next = await t.app.inject({ url: '/count-notes', headers })
    expect(next.statusCode).toBe(200)
    const setting = await t.app.prisma.$queryRaw<Array<{ s: string | null }>>`
      SELECT current_setting('app.tenant_id', true) AS s`
    expect(setting[0]?.s ?? '').toBe('')
  })
})

describe('CH-02 with the statement scope (the default)', () => {
  it('answers 503 within 5 s when the database goes away mid-request, keeps what committed before, and recovers', async () => {
    // Warm: the first write compiles its query plan, which must not straddle the cut.
    const warm = await s.app.inject({
      method: 'POST',
      url: '/slow-notes',
      headers: sHeaders,
      payload: { title: 'stmt-warm', pauseMs: 0 },
    })
    expect(warm.statusCode).toBe(201)
    const started = Date.now()
    const pending = s.app.inject({
      method: 'POST',
      url: '/slow-notes',
      headers: sHeaders,
      payload: { title: 'stmt-cut', pauseMs: 300 },
    })
    await sleep(100)
    await proxy.cut()
    const response = await pending
    expect(response.statusCode).toBe(503)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(response.body).not.toMatch(/ECONNRESET|Prisma|postgres/i)

    await proxy.restore()
    // The first write was a transaction of its own, committed before the outage: the trade-off
    // of the statement scope (request.db.$transaction or tenantTransaction: 'request' for more).
    expect(await titlesLike('stmt-cut')).toEqual(['stmt-cut-1'])
    await recovers(s.app, sHeaders)
  })

  it('rolls a $transaction back when it outlives its deadline, and the connection serves the next request tenant-free', async () => {
    const response = await s.app.inject({
      method: 'POST',
      url: '/slow-transaction',
      headers: sHeaders,
      payload: { title: 'stmt-late', pauseMs: 1_500 },
    })
    expect(response.statusCode).toBeGreaterThanOrEqual(500)
    expect(await titlesLike('stmt-late')).toEqual([])
    const next = await s.app.inject({ url: '/count-notes', headers: sHeaders })
    expect(next.statusCode).toBe(200)
    const setting = await s.app.prisma.$queryRaw<Array<{ s: string | null }>>`
      SELECT current_setting('app.tenant_id', true) AS s`
    expect(setting[0]?.s ?? '').toBe('')
  })
})
