import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { bearer, createTenant, signUp, type TenancyTestApp } from './app.js'
import { notesRoutes } from './notes-routes.js'

/**
 * The property behind property-concurrent.test.ts (and pgbouncer.test.ts): random batches of
 * requests from many tenants' owners, each batch sent at once, against fewer database connections
 * than requests in flight, so statements of different tenants interleave on the same connections
 * all the time. Every note's title starts with its tenant's mark, so a row written or shown in the
 * wrong tenant is visible whatever the interleaving. After each batch: every response shows only
 * its own tenant's rows and setting, app.prisma inside a request saw no tenant, no row ever
 * changed tenant, and a failed transaction left nothing.
 */

/** notesRoutes, and app.prisma's view from inside a tenant's request. */
export async function concurrentRoutes(app: FastifyInstance) {
  await notesRoutes(app)
  app.get(
    '/unscoped',
    { config: { auth: 'required', tenant: 'required' } },
    async () =>
      (
        await app.prisma.$queryRaw<Array<{ notes: number; setting: string | null }>>`
          SELECT (SELECT count(*)::int FROM notes) AS notes,
                 coalesce(current_setting('app.tenant_id', true), '') AS setting`
      )[0],
  )
}

export interface ConcurrentWorld {
  t: TenancyTestApp
  owner: pg.Client
  tenants: Array<{ id: string; token: string; mark: string }>
  /** Every note ever created by `create` (any tenant), and the tenant it was created in. */
  createdIn: Map<string, string>
  everCreated: string[]
  /** How often each kind of request got each status. */
  outcomes: Map<string, number>
}

export async function setUpConcurrentWorld(
  t: TenancyTestApp,
  count: number,
  label: string,
): Promise<ConcurrentWorld> {
  const tenants: ConcurrentWorld['tenants'] = []
  for (let index = 0; index < count; index++) {
    const user = await signUp(t, `owner${index}@${label}.test`)
    const tenant = await createTenant(t, user.token, `${label} ${index}`)
    tenants.push({ id: tenant.id, token: user.token, mark: `t${index}:` })
  }
  const owner = new pg.Client({ connectionString: t.db.owner.url })
  await owner.connect()
  return { t, owner, tenants, createdIn: new Map(), everCreated: [], outcomes: new Map() }
}

export type Op =
  | { kind: 'create'; as: number; title: string; smuggle: number | null }
  | { kind: 'list' | 'raw' | 'setting' | 'unscoped'; as: number }
  | { kind: 'get' | 'delete'; as: number; note: number }
  | { kind: 'patch'; as: number; note: number; title: string }
  | { kind: 'batch'; as: number; titles: string[]; failAfter: number | null }
  | { kind: 'foreign'; as: number; named: number }

const word = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'),
  minLength: 1,
  maxLength: 12,
})
const note = fc.nat({ max: 100_000 })
function opArbitrary(tenants: number): fc.Arbitrary<Op> {
  const who = fc.nat({ max: tenants - 1 })
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('create' as const),
        as: who,
        title: word,
        smuggle: fc.option(who, { freq: 2 }),
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constantFrom(
          'list' as const,
          'raw' as const,
          'setting' as const,
          'unscoped' as const,
        ),
        as: who,
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constantFrom('get' as const, 'delete' as const),
        as: who,
        note,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('patch' as const), as: who, note, title: word }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('batch' as const),
        as: who,
        titles: fc.array(word, { minLength: 1, maxLength: 3 }),
        failAfter: fc.option(fc.nat({ max: 3 }), { freq: 2 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('foreign' as const), as: who, named: who }),
    },
  )
}

/** A run: 3 to 6 batches of 6 to 16 requests, sent a batch at a time. */
export function batchesArbitrary(tenants: number): fc.Arbitrary<Op[][]> {
  return fc.array(fc.array(opArbitrary(tenants), { minLength: 6, maxLength: 16 }), {
    minLength: 3,
    maxLength: 6,
  })
}

export class Violation extends Error {}
function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Violation(message())
}

interface Sent {
  op: Op
  response: LightMyRequestResponse
  /** Titles that must never persist (a failed transaction's). */
  doomed: string[]
  /** The note the op named, if any. */
  noteId?: string
}

function send(world: ConcurrentWorld, o: Op): Promise<Sent> {
  const { t, tenants, everCreated } = world
  const headersOf = (as: number, named = as) => ({
    ...bearer(tenants[as]?.token ?? ''),
    'x-tenant-id': tenants[named]?.id ?? '',
  })
  const pick = (index: number) =>
    everCreated.length === 0 ? randomUUID() : (everCreated[index % everCreated.length] as string)
  const titled = (as: number, title: string) => `${tenants[as]?.mark}${title}`
  /** The title of a batch that must fail: unique, so its absence can be checked. */
  const failing = (as: number, title: string) =>
    titled(as, `fail-${randomUUID().slice(0, 8)}-${title}`)
  const headers = headersOf(o.as)
  const done = (response: LightMyRequestResponse, extra: Partial<Sent> = {}): Sent => ({
    op: o,
    response,
    doomed: [],
    ...extra,
  })
  switch (o.kind) {
    case 'create':
      return t.app
        .inject({
          method: 'POST',
          url: '/notes',
          headers,
          payload: {
            title: titled(o.as, o.title),
            ...(o.smuggle === null ? {} : { tenantId: tenants[o.smuggle]?.id }),
          },
        })
        .then((response) => done(response))
    case 'list':
      return t.app.inject({ url: '/notes', headers }).then((response) => done(response))
    case 'raw':
      return t.app.inject({ url: '/notes-raw', headers }).then((response) => done(response))
    case 'setting':
      return t.app.inject({ url: '/tenant-setting', headers }).then((response) => done(response))
    case 'unscoped':
      return t.app.inject({ url: '/unscoped', headers }).then((response) => done(response))
    case 'foreign':
      return t.app
        .inject({ url: '/notes', headers: headersOf(o.as, o.named) })
        .then((response) => done(response))
    case 'get':
    case 'delete': {
      const id = pick(o.note)
      return t.app
        .inject({ method: o.kind === 'get' ? 'GET' : 'DELETE', url: `/notes/${id}`, headers })
        .then((response) => done(response, { noteId: id }))
    }
    case 'patch': {
      const id = pick(o.note)
      return t.app
        .inject({
          method: 'PATCH',
          url: `/notes/${id}`,
          headers,
          payload: { title: titled(o.as, o.title) },
        })
        .then((response) => done(response, { noteId: id }))
    }
    case 'batch': {
      const fails = o.failAfter !== null && o.failAfter < o.titles.length
      const titles = o.titles.map((title) => (fails ? failing(o.as, title) : titled(o.as, title)))
      return t.app
        .inject({
          method: 'POST',
          url: '/notes/batch',
          headers,
          payload: { titles, ...(o.failAfter === null ? {} : { failAfter: o.failAfter }) },
        })
        .then((response) => done(response, { doomed: fails ? titles : [] }))
    }
  }
}

interface Row {
  id: string
  tenant_id: string
  title: string
}

/** Sends `batch` at once, then checks every response and the notes table. */
export async function runBatch(world: ConcurrentWorld, batch: Op[]): Promise<void> {
  const { owner, tenants, createdIn, everCreated, outcomes } = world
  const sent = await Promise.all(batch.map((o) => send(world, o)))
  const rows = (await owner.query<Row>('SELECT id, tenant_id, title FROM notes')).rows
  const where = (s: Sent) =>
    `${JSON.stringify(s.op)} -> ${s.response.statusCode} ${s.response.body}`

  for (const s of sent) {
    const { op: o, response } = s
    const own = tenants[o.as] as { id: string; mark: string }
    const key = `${o.kind} ${response.statusCode}`
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
    const body = response.body === '' ? null : response.json<Record<string, unknown>>()
    // Whatever a response shows of a note is its own tenant's.
    const shownIds = [...response.body.matchAll(/"id":"([0-9a-f-]{36})"/g)].map((m) => m[1])
    for (const id of shownIds) {
      const origin = id ? createdIn.get(id) : undefined
      check(
        origin === undefined || origin === own.id,
        () => `${where(s)}: shows ${id} of ${origin}`,
      )
    }
    switch (o.kind) {
      case 'create': {
        check(response.statusCode === 201, () => where(s))
        const created = body as { id: string; tenantId: string }
        check(created.tenantId === own.id, () => `${where(s)}: created elsewhere`)
        createdIn.set(created.id, own.id)
        everCreated.push(created.id)
        break
      }
      case 'list': {
        check(response.statusCode === 200, () => where(s))
        const items = (body as { items: Array<{ tenantId: string; title: string }> }).items
        check(
          items.every((item) => item.tenantId === own.id && item.title.startsWith(own.mark)),
          () => `${where(s)}: lists another tenant's note`,
        )
        break
      }
      case 'raw': {
        check(response.statusCode === 200, () => where(s))
        const titles = (body as { titles: string[] }).titles
        check(
          titles.every((title) => title.startsWith(own.mark)),
          () => `${where(s)}: raw SQL saw another tenant's note`,
        )
        break
      }
      case 'setting':
        check(
          response.statusCode === 200 && (body as { setting: string }).setting === own.id,
          () => `${where(s)}: the statement ran as another tenant`,
        )
        break
      case 'unscoped':
        check(
          response.statusCode === 200 &&
            (body as { notes: number }).notes === 0 &&
            (body as { setting: string }).setting === '',
          () => `${where(s)}: app.prisma saw a tenant`,
        )
        break
      case 'foreign':
        if (o.named !== o.as) {
          check(
            response.statusCode === 404 &&
              (body as { code: string }).code === 'ACME_TENANCY_TENANT_NOT_FOUND',
            () => where(s),
          )
        } else check(response.statusCode === 200, () => where(s))
        break
      case 'get':
      case 'patch':
      case 'delete': {
        const origin = s.noteId ? createdIn.get(s.noteId) : undefined
        if (origin !== own.id) {
          check(
            response.statusCode === 404 &&
              (body as { code: string }).code === 'ACME_TENANCY_NOT_FOUND',
            () => `${where(s)}: reached a note of ${origin}`,
          )
        } else {
          // Its own note: found, unless a request of the same batch deleted it first.
          check([200, 204, 404].includes(response.statusCode), () => where(s))
          if (response.statusCode === 200) {
            check((body as { tenantId: string }).tenantId === own.id, () => where(s))
          }
        }
        break
      }
      case 'batch':
        check(
          response.statusCode === (s.doomed.length > 0 ? 500 : 201),
          () => `${where(s)}: unexpected status`,
        )
        break
    }
    for (const title of s.doomed) {
      check(!rows.some((row) => row.title === title), () => `${where(s)}: ${title} persisted`)
    }
  }
  for (const row of rows) {
    const origin = createdIn.get(row.id)
    // Rows written by batches are not in the map; their title says where they belong.
    const mark = tenants.find((tenant) => tenant.id === row.tenant_id)?.mark
    check(mark !== undefined && row.title.startsWith(mark), () => `${row.id} in the wrong tenant`)
    check(origin === undefined || origin === row.tenant_id, () => `${row.id} moved tenant`)
  }
}

/** Runs the property: `runs` runs of batches; returns how many requests were sent. */
export async function checkConcurrentProperty(
  world: ConcurrentWorld,
  settings: { seed: number; numRuns: number },
): Promise<number> {
  let requests = 0
  await fc.assert(
    fc.asyncProperty(batchesArbitrary(world.tenants.length), async (runs) => {
      for (const batch of runs) {
        requests += batch.length
        await runBatch(world, batch)
      }
    }),
    { seed: settings.seed, numRuns: settings.numRuns, includeErrorInReport: true },
  )
  return requests
}
