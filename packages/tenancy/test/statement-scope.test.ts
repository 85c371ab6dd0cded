import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PrismaClient } from '../src/generated/prisma/client.js'
import {
  OpenTransactionError,
  type PgPool,
  type PgResult,
  SETTINGS_SQL,
  SETTINGS_STATEMENT,
  TenantBinding,
  tenantPool,
  UnboundStatementError,
} from '../src/pg-tenant-driver.js'
import {
  adapterPg,
  bearer,
  createTenancyApp,
  createTenant,
  signUp,
  type TenancyTestApp,
} from './support/app.js'
import { notesRoutes } from './support/notes-routes.js'

/**
 * The statement scope, request.db's default with row-level security: every statement goes to
 * PostgreSQL together with the tenant settings, in one round trip ended by one Sync, on a client
 * of its own. These tests hold the PostgreSQL semantics it rests on against a real server, and
 * the traps around it: Prisma batching unique lookups across requests, errors mid-statement, a
 * connection reused after one, and statements that reach the database with no tenant.
 */

let t: TenancyTestApp
const tenants: Array<{ id: string; token: string; notes: string[] }> = []
/** Lets the test release the routes below all at once, so their lookups land in one tick. */
let gate: { promise: Promise<void>; open(): void; arrived: number } = newGate()

function newGate() {
  let open = () => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open, arrived: 0 }
}

const headersOf = (index: number) => {
  const tenant = tenants[index]
  if (!tenant) throw new Error(`no tenant ${index}`)
  return { ...bearer(tenant.token), 'x-tenant-id': tenant.id }
}

async function probeRoutes(app: FastifyInstance) {
  await notesRoutes(app)
  const config = { auth: 'required', tenant: 'required' } as const
  const plain = () => app.prisma as unknown as PrismaClient

  // Waits at the gate, then looks the note up through request.db and app.prisma in one tick.
  app.get<{ Params: { id: string } }>('/same-tick/:id', { config }, async (request) => {
    gate.arrived += 1
    await gate.promise
    const db = request.db as unknown as PrismaClient
    const [scoped, unscoped] = await Promise.all([
      db.note.findUnique({ where: { id: request.params.id } }),
      plain().note.findUnique({ where: { id: request.params.id } }),
    ])
    return { scoped: scoped?.id ?? null, unscoped: unscoped?.id ?? null }
  })

  // What a connection is, as request.db sees it: its server process and the setting.
  app.get('/connection', { config }, async (request) => {
    const rows = await request.db.$queryRaw<Array<{ pid: number; setting: string | null }>>`
      SELECT pg_backend_pid() AS pid, current_setting('app.tenant_id', true) AS setting`
    return rows[0]
  })

  // One statement that writes, then fails: the whole statement, settings included, is undone.
  app.post('/write-then-fail', { config }, async (request) => {
    await request.db.$executeRaw`
      WITH added AS (
        INSERT INTO notes (id, tenant_id, title)
        VALUES (gen_random_uuid(), ${request.tenant?.id}::uuid, 'half-written')
        RETURNING 1 AS one)
      SELECT one / 0 FROM added`
    return { unreachable: true }
  })

  // A raw write naming another tenant: the policy refuses it (42501).
  app.post<{ Body: { tenantId: string } }>('/cross-write', { config }, async (request) => {
    await request.db.$executeRaw`
      INSERT INTO notes (id, tenant_id, title)
      VALUES (gen_random_uuid(), ${request.body.tenantId}::uuid, 'cross')`
    return { unreachable: true }
  })

  // Two writes, then a failure: each write of the statement scope is committed on its own.
  app.post<{ Body: { title: string } }>('/two-writes-then-fail', { config }, async (request) => {
    const tenantId = request.tenant?.id ?? ''
    await request.db.note.create({ data: { title: `${request.body.title}-1`, tenantId } })
    await request.db.note.create({ data: { title: `${request.body.title}-2`, tenantId } })
    throw new Error('after two writes')
  })
  // The same, as a request that is one transaction.
  app.post<{ Body: { title: string } }>(
    '/two-writes-then-fail/atomic',
    { config: { ...config, tenantTransaction: 'request' } },
    async (request) => {
      const tenantId = request.tenant?.id ?? ''
      await request.db.note.create({ data: { title: `${request.body.title}-1`, tenantId } })
      await request.db.note.create({ data: { title: `${request.body.title}-2`, tenantId } })
      throw new Error('after two writes')
    },
  )

  // app.prisma inside a tenant's request: no tenant reaches it.
  app.get('/unscoped', { config }, async () => {
    const rows = await plain().$queryRaw<Array<{ notes: number; setting: string | null }>>`
      SELECT (SELECT count(*)::int FROM notes) AS notes,
             current_setting('app.tenant_id', true) AS setting`
    return { ...rows[0], found: (await plain().note.findMany()).length }
  })

  // Holds the pool's one connection in a transaction for a while.
  app.post<{ Body: { ms: number } }>('/hold', { config }, async (request) => {
    await request.db.$transaction(async (tx) => {
      await tx.note.count()
      await new Promise((resolve) => setTimeout(resolve, request.body.ms))
    })
    return { held: request.body.ms }
  })

  // Statements that cannot run inside a transaction block.
  app.post<{ Body: { sql: 'vacuum' | 'index' } }>('/maintenance', { config }, async (request) => {
    if (request.body.sql === 'vacuum') await request.db.$executeRaw`VACUUM notes`
    else
      await request.db.$executeRawUnsafe('CREATE INDEX CONCURRENTLY notes_title ON notes (title)')
    return { unreachable: true }
  })
}

async function ownerQuery<R extends pg.QueryResultRow>(sql: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: t.db.owner.url })
  await client.connect()
  try {
    return (await client.query<R>(sql, values)).rows
  } finally {
    await client.end()
  }
}

beforeAll(async () => {
  // One connection, shared by app.prisma and request.db: what one runs on, the other ran on.
  t = await createTenancyApp(
    { rateLimit: { enabled: false } },
    { label: 'stmtscope', routes: probeRoutes, sharedPool: 1, core: { rateLimit: false } },
  )
  for (const name of ['a', 'b']) {
    const user = await signUp(t, `${name}@statement.test`)
    const tenant = await createTenant(t, user.token, `Statement ${name}`)
    const notes: string[] = []
    for (const title of [`${name}-1`, `${name}-2`]) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/notes',
        headers: { ...bearer(user.token), 'x-tenant-id': tenant.id },
        payload: { title },
      })
      expect(response.statusCode).toBe(201)
      notes.push(response.json<{ id: string }>().id)
    }
    tenants.push({ id: tenant.id, token: user.token, notes })
  }
})

afterAll(async () => {
  await t?.close()
})

describe('PostgreSQL, as the tenant pool drives it (app role, forced RLS)', () => {
  let pool: pg.Pool
  let binding: TenantBinding
  let scoped: PgPool

  beforeAll(() => {
    pool = new pg.Pool({ connectionString: t.db.app.url, max: 1 })
    binding = new TenantBinding()
    scoped = tenantPool(pool as unknown as PgPool, binding, 2_000)
  })
  afterAll(async () => {
    await pool?.end()
  })

  const as = <R>(index: number, work: () => Promise<R>) =>
    binding.run({ tenantId: tenants[index]?.id ?? '' }, work)
  const run = (text: string, values: unknown[] = []): Promise<PgResult> =>
    scoped.query({ text, values })
  /** The one connection, as a statement with no tenant sees it. */
  const bare = async () =>
    (
      await pool.query<{ pid: number; setting: string; notes: number; xid: string | null }>(
        `SELECT pg_backend_pid() AS pid, coalesce(current_setting('app.tenant_id', true), '') AS setting,
                (SELECT count(*)::int FROM notes) AS notes, txid_current_if_assigned() AS xid`,
      )
    ).rows[0]

  it('applies the settings to the statement sent with them, and to nothing after it', async () => {
    const seen = await as(0, () =>
      run(`SELECT pg_backend_pid() AS pid, current_setting('app.tenant_id', true) AS setting,
                  (SELECT count(*)::int FROM notes) AS notes`),
    )
    expect(seen.rows).toEqual([{ pid: expect.any(Number), setting: tenants[0]?.id, notes: 2 }])
    const after = await bare()
    expect(after).toEqual({
      pid: (seen.rows[0] as { pid: number }).pid,
      setting: '',
      notes: 0,
      xid: null,
    })
  })

  it('undoes a statement that fails midway, and reuses the connection for the next tenant', async () => {
    const { pid } = (await bare()) ?? { pid: 0 }
    await expect(
      as(0, () =>
        run(
          `WITH added AS (INSERT INTO notes (id, tenant_id, title)
                          VALUES (gen_random_uuid(), $1, 'undone') RETURNING 1 AS one)
           SELECT one / 0 FROM added`,
          [tenants[0]?.id],
        ),
      ),
    ).rejects.toMatchObject({ code: '22012' })
    expect(await ownerQuery(`SELECT id FROM notes WHERE title = 'undone'`)).toEqual([])
    const next = await as(1, () =>
      run(`SELECT pg_backend_pid() AS pid, array_agg(tenant_id::text) AS tenants FROM notes`),
    )
    expect(next.rows).toEqual([{ pid, tenants: [tenants[1]?.id, tenants[1]?.id] }])
    expect(await bare()).toEqual({ pid, setting: '', notes: 0, xid: null })
  })

  it('keeps the connection after a refused cross-tenant write, and leaves nothing on it', async () => {
    const { pid } = (await bare()) ?? { pid: 0 }
    await expect(
      as(0, () =>
        run(`INSERT INTO notes (id, tenant_id, title) VALUES (gen_random_uuid(), $1, 'cross')`, [
          tenants[1]?.id,
        ]),
      ),
    ).rejects.toMatchObject({ code: '42501' })
    expect(await bare()).toEqual({ pid, setting: '', notes: 0, xid: null })
  })

  it('refuses a statement with no tenant bound, without sending it', async () => {
    await expect(run('SELECT count(*) FROM notes')).rejects.toBeInstanceOf(UnboundStatementError)
    await expect(scoped.connect()).rejects.toBeInstanceOf(UnboundStatementError)
    // And a statement that does reach the server with no tenant sees nothing.
    expect((await bare())?.notes).toBe(0)
  })

  it('discards a connection a statement left in a transaction', async () => {
    const { pid } = (await bare()) ?? { pid: 0 }
    await expect(as(0, () => run('BEGIN'))).rejects.toBeInstanceOf(OpenTransactionError)
    const after = await bare()
    expect(after?.pid).not.toBe(pid)
    expect(after).toMatchObject({ setting: '', notes: 0, xid: null })
  })

  it('refuses what cannot run in a transaction block, rather than run it without the tenant', async () => {
    await expect(as(0, () => run('VACUUM notes'))).rejects.toMatchObject({ code: '25001' })
    await expect(
      as(0, () => run('CREATE INDEX CONCURRENTLY notes_title ON notes (title)')),
    ).rejects.toMatchObject({ code: '25001' })
    expect(await ownerQuery(`SELECT 1 FROM pg_indexes WHERE indexname = 'notes_title'`)).toEqual([])
  })

  it('prepares the settings statement once per connection, and again when the connection lost it', async () => {
    const prepared = async () =>
      (await pool.query<{ name: string }>('SELECT name FROM pg_prepared_statements')).rows.map(
        (row) => row.name,
      )
    await as(0, () => run('SELECT 1'))
    expect(await prepared()).toContain(SETTINGS_STATEMENT)
    // As when a pooler hands the next statement a server connection that never saw it.
    await pool.query(`DEALLOCATE ${SETTINGS_STATEMENT}`)
    const next = await as(1, () => run(`SELECT current_setting('app.tenant_id', true) AS setting`))
    expect(next.rows).toEqual([{ setting: tenants[1]?.id }])
    expect(await prepared()).toContain(SETTINGS_STATEMENT)
  })

  it('binds the settings statement a connection already has (prepared by another client)', async () => {
    const fresh = new pg.Pool({ connectionString: t.db.app.url, max: 1 })
    try {
      await fresh.query(`PREPARE ${SETTINGS_STATEMENT} AS ${SETTINGS_SQL}`)
      const scopedFresh = tenantPool(fresh as unknown as PgPool, binding, 2_000)
      const seen = await as(0, () =>
        scopedFresh.query({
          text: `SELECT current_setting('app.tenant_id', true) AS setting,
                        (SELECT count(*)::int FROM notes) AS notes`,
          values: [],
        }),
      )
      expect(seen.rows).toEqual([{ setting: tenants[0]?.id, notes: 2 }])
    } finally {
      await fresh.end()
    }
  })

  it('sends BEGIN and the settings with a transaction’s first statement, and commits', async () => {
    // The pool's one connection is the transaction's until it is released.
    const client = await as(0, () => scoped.connect())
    expect(await client.query({ text: 'BEGIN', values: [] })).toMatchObject({ command: 'BEGIN' })
    const first = (await client.query({
      text: `INSERT INTO notes (id, tenant_id, title) VALUES (gen_random_uuid(), $1, 'in-tx')
             RETURNING pg_backend_pid() AS pid, current_setting('app.tenant_id', true) AS setting,
                       txid_current()::text AS xid`,
      values: [tenants[0]?.id],
    })) as PgResult
    const second = (await client.query({
      text: `SELECT pg_backend_pid() AS pid, current_setting('app.tenant_id', true) AS setting,
                    txid_current()::text AS xid,
                    (SELECT count(*)::int FROM notes WHERE title = 'in-tx') AS visible`,
      values: [],
    })) as PgResult
    expect(first.rows[0]).toMatchObject({ setting: tenants[0]?.id })
    // One transaction: the same server process, transaction id and setting for both statements.
    expect(second.rows[0]).toEqual({ ...(first.rows[0] as object), visible: 1 })
    // Another session does not see it before COMMIT.
    expect(await ownerQuery(`SELECT 1 FROM notes WHERE title = 'in-tx'`)).toEqual([])
    await client.query({ text: 'COMMIT', values: [] })
    client.release()
    expect(await ownerQuery(`SELECT 1 AS one FROM notes WHERE title = 'in-tx'`)).toEqual([
      { one: 1 },
    ])
    const { pid } = first.rows[0] as { pid: number }
    expect(await bare()).toEqual({ pid, setting: '', notes: 0, xid: null })
  })

  it('ends a transaction that ran nothing without a round trip, and rolls back a failed one', async () => {
    const idle = await as(0, () => scoped.connect())
    await idle.query({ text: 'BEGIN', values: [] })
    expect(await idle.query({ text: 'COMMIT', values: [] })).toMatchObject({ command: 'COMMIT' })
    idle.release()

    const failing = await as(0, () => scoped.connect())
    await failing.query({ text: 'BEGIN', values: [] })
    await failing.query({
      text: `INSERT INTO notes (id, tenant_id, title) VALUES (gen_random_uuid(), $1, 'rolled')`,
      values: [tenants[0]?.id],
    })
    await expect(failing.query({ text: 'SELECT 1 / 0', values: [] })).rejects.toMatchObject({
      code: '22012',
    })
    await failing.query({ text: 'ROLLBACK', values: [] })
    failing.release()
    expect(await ownerQuery(`SELECT 1 FROM notes WHERE title = 'rolled'`)).toEqual([])
    expect(await bare()).toMatchObject({ setting: '', notes: 0, xid: null })
  })
})

describe('request.db in the statement scope', () => {
  it('keeps two tenants’ unique lookups in one tick apart, and app.prisma sees neither', async () => {
    const [a, b] = tenants
    if (!a || !b) throw new Error('tenants missing')
    // A asks for its note and for B's, B for its own; all released in one tick.
    const asks = [
      { as: 0, id: a.notes[0] },
      { as: 0, id: b.notes[0] },
      { as: 1, id: b.notes[0] },
      { as: 1, id: b.notes[1] },
    ]
    for (let round = 0; round < 5; round++) {
      gate = newGate()
      const pending = asks.map((ask) =>
        t.app.inject({ url: `/same-tick/${ask.id}`, headers: headersOf(ask.as) }),
      )
      while (gate.arrived < asks.length) await new Promise((resolve) => setImmediate(resolve))
      gate.open()
      const answers = (await Promise.all(pending)).map((response) => response.json())
      expect(answers).toEqual([
        { scoped: a.notes[0], unscoped: null },
        { scoped: null, unscoped: null },
        { scoped: b.notes[0], unscoped: null },
        { scoped: b.notes[1], unscoped: null },
      ])
    }
  })

  it('would be batched by Prisma as the routes call it: one statement for lookups in one tick', async () => {
    // The control for the test above: on a plain client, the same calls in one tick are merged.
    const { PrismaClient } = await import('../src/generated/prisma/client.js')
    const { PrismaPg } = adapterPg()
    const plain = new PrismaClient({
      adapter: new PrismaPg({ connectionString: t.db.owner.url }),
      log: [{ emit: 'event', level: 'query' }],
    })
    const statements: string[] = []
    plain.$on('query', (event) => statements.push(event.query))
    try {
      await plain.note.findMany({ take: 1 })
      statements.length = 0
      const ids = tenants.flatMap((tenant) => tenant.notes)
      const found = await Promise.all(ids.map((id) => plain.note.findUnique({ where: { id } })))
      expect(found.map((row) => row?.id)).toEqual(ids)
      expect(statements).toHaveLength(1)
    } finally {
      await plain.$disconnect()
    }
  })

  it('answers an error mid-statement, persists none of it, and serves the next tenant on the same connection', async () => {
    const before = (await t.app.inject({ url: '/connection', headers: headersOf(0) })).json<{
      pid: number
      setting: string
    }>()
    expect(before.setting).toBe(tenants[0]?.id)
    const failed = await t.app.inject({
      method: 'POST',
      url: '/write-then-fail',
      headers: headersOf(0),
    })
    // Division by zero is a data exception: core answers 400.
    expect(failed.statusCode).toBe(400)
    expect(await ownerQuery(`SELECT id FROM notes WHERE title = 'half-written'`)).toEqual([])

    const next = await t.app.inject({ url: '/notes', headers: headersOf(1) })
    expect(next.statusCode).toBe(200)
    const items = next.json<{ items: Array<{ tenantId: string }> }>().items
    expect(items.map((item) => item.tenantId)).toEqual([tenants[1]?.id, tenants[1]?.id])
    const after = (await t.app.inject({ url: '/connection', headers: headersOf(1) })).json()
    expect(after).toEqual({ pid: before.pid, setting: tenants[1]?.id })
    // The same connection, as app.prisma finds it between requests: no tenant, no rows.
    const between = (await t.app.inject({ url: '/unscoped', headers: headersOf(1) })).json()
    expect(between).toEqual({ notes: 0, setting: '', found: 0 })
  })

  it('refuses a raw write for another tenant with the policy, and keeps the connection', async () => {
    const before = (await t.app.inject({ url: '/connection', headers: headersOf(0) })).json()
    const refused = await t.app.inject({
      method: 'POST',
      url: '/cross-write',
      headers: headersOf(0),
      payload: { tenantId: tenants[1]?.id },
    })
    expect(refused.statusCode).toBe(500)
    expect(await ownerQuery(`SELECT id FROM notes WHERE title = 'cross'`)).toEqual([])
    const after = (await t.app.inject({ url: '/connection', headers: headersOf(0) })).json()
    expect(after).toEqual(before)
  })

  it('gives app.prisma no tenant inside a tenant’s request', async () => {
    const seen = await t.app.inject({ url: '/unscoped', headers: headersOf(0) })
    expect(seen.json()).toEqual({ notes: 0, setting: '', found: 0 })
  })

  it('refuses maintenance statements through request.db', async () => {
    for (const sql of ['vacuum', 'index']) {
      const response = await t.app.inject({
        method: 'POST',
        url: '/maintenance',
        headers: headersOf(0),
        payload: { sql },
      })
      expect(response.statusCode).toBe(500)
    }
    expect(await ownerQuery(`SELECT 1 FROM pg_indexes WHERE indexname = 'notes_title'`)).toEqual([])
  })

  it('waits for a connection at most transaction.maxWaitMs, then answers 503', async () => {
    const holding = t.app.inject({
      method: 'POST',
      url: '/hold',
      headers: headersOf(0),
      payload: { ms: 3_000 },
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const started = Date.now()
    const waiting = await t.app.inject({ url: '/notes', headers: headersOf(1) })
    expect(waiting.statusCode).toBe(503)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900)
    expect(Date.now() - started).toBeLessThan(2_900)
    expect((await holding).statusCode).toBe(200)
    expect((await t.app.inject({ url: '/notes', headers: headersOf(1) })).statusCode).toBe(200)
  })

  it('commits each statement on its own; request.db.$transaction and tenantTransaction: request do not', async () => {
    const title = `partial-${randomUUID().slice(0, 8)}`
    const plain = await t.app.inject({
      method: 'POST',
      url: '/two-writes-then-fail',
      headers: headersOf(0),
      payload: { title },
    })
    expect(plain.statusCode).toBe(500)
    expect(
      (
        await ownerQuery<{ title: string }>('SELECT title FROM notes WHERE title LIKE $1', [
          `${title}%`,
        ])
      )
        .map((row) => row.title)
        .sort(),
    ).toEqual([`${title}-1`, `${title}-2`])

    const atomic = await t.app.inject({
      method: 'POST',
      url: '/two-writes-then-fail/atomic',
      headers: headersOf(0),
      payload: { title: `${title}-atomic` },
    })
    expect(atomic.statusCode).toBe(500)
    expect(
      await ownerQuery('SELECT 1 FROM notes WHERE title LIKE $1', [`${title}-atomic%`]),
    ).toEqual([])

    const batch = await t.app.inject({
      method: 'POST',
      url: '/notes/batch',
      headers: headersOf(0),
      payload: { titles: [`${title}-b1`, `${title}-b2`, `${title}-b3`], failAfter: 2 },
    })
    expect(batch.statusCode).toBe(500)
    expect(await ownerQuery('SELECT 1 FROM notes WHERE title LIKE $1', [`${title}-b%`])).toEqual([])
  })
})
