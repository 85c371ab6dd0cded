import { randomUUID } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { bearer, createTenant, signUp, type TenancyTestApp } from './app.js'

/**
 * The property behind property.test.ts: random sequences of note operations through HTTP, by
 * random people in random tenants (their own or not), checked step by step against a model of
 * which notes live in which tenant and against the notes table as the migration owner sees it.
 */

export const TENANT_NAMES = ['A', 'B', 'C'] as const
/** The tenant index the model gives a tenant id no one has. */
const UNKNOWN_TENANT = -1

export interface PropertyActor {
  name: string
  userId: string
  token: string
  /** Indexes of the tenants the actor belongs to. */
  memberOf: ReadonlySet<number>
}

export interface PropertyWorld {
  t: TenancyTestApp
  tenantIds: readonly string[]
  actors: readonly PropertyActor[]
  /** The migration owner's connection: no policy hides a row from it. */
  owner: pg.Client
  /** Every note id ever created, in any tenant, across runs: what get/patch/delete pick from. */
  everCreated: string[]
  /** The tenant each note was created in (never allowed to change). */
  createdIn: Map<string, string>
  /** How often each kind of step got each status, so a reviewer sees what the runs exercised. */
  outcomes: Map<string, number>
}

/** How a request names its tenant. */
interface Naming {
  /**
   * The `x-tenant-id` header: one of the actor's own tenants, any of the three (often someone
   * else's), a tenant id no one has, or no header.
   */
  header: { of: 'own' | 'any'; index: number } | 'unknown' | null
  /** Sends the token from the actor's last switch (if any) instead of the login token. */
  switched: boolean
}

export type Step =
  | { kind: 'create'; actor: number; naming: Naming; title: string; smuggle: number | null }
  | { kind: 'list'; actor: number; naming: Naming }
  | { kind: 'get' | 'delete'; actor: number; naming: Naming; note: number }
  | { kind: 'patch'; actor: number; naming: Naming; note: number; title: string }
  | { kind: 'batch'; actor: number; naming: Naming; titles: string[]; failAfter: number | null }
  | { kind: 'switch'; actor: number; tenant: number }

interface Row {
  id: string
  tenant_id: string
  title: string
}

interface NoteBody {
  id: string
  tenantId: string
  title: string
}

/** Three tenants with an owner each, and Mia, a member of A and B. */
export async function setUpWorld(t: TenancyTestApp): Promise<PropertyWorld> {
  const owners: Array<{ userId: string; token: string }> = []
  const tenantIds: string[] = []
  for (const name of TENANT_NAMES) {
    const user = await signUp(t, `owner@${name.toLowerCase()}.property.test`)
    tenantIds.push((await createTenant(t, user.token, `Property ${name}`)).id)
    owners.push(user)
  }
  const mia = await signUp(t, 'mia@ab.property.test')
  await t.app.tenancy.tenants.addMember(tenantIds[0] as string, mia.userId, ['member'])
  await t.app.tenancy.tenants.addMember(tenantIds[1] as string, mia.userId, ['member'])
  const actors: PropertyActor[] = [
    ...owners.map((user, index) => ({
      name: `owner of ${TENANT_NAMES[index]}`,
      userId: user.userId,
      token: user.token,
      memberOf: new Set([index]),
    })),
    { name: 'Mia (A and B)', userId: mia.userId, token: mia.token, memberOf: new Set([0, 1]) },
  ]
  const owner = new pg.Client({ connectionString: t.db.owner.url })
  await owner.connect()
  return {
    t,
    tenantIds,
    actors,
    owner,
    everCreated: [],
    createdIn: new Map(),
    outcomes: new Map(),
  }
}

const title = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789 -'),
  minLength: 1,
  maxLength: 24,
})

/** Mostly the actor's own tenants by header, sometimes anyone's, an unknown one or none. */
function namingArbitrary(): fc.Arbitrary<Naming> {
  const index = fc.nat({ max: 5 })
  return fc.record({
    header: fc.oneof(
      { weight: 6, arbitrary: fc.record({ of: fc.constant('own' as const), index }) },
      { weight: 3, arbitrary: fc.record({ of: fc.constant('any' as const), index }) },
      { weight: 1, arbitrary: fc.constant('unknown' as const) },
      { weight: 2, arbitrary: fc.constant(null) },
    ),
    switched: fc.boolean(),
  })
}

/** The tenant index a header names for `actor` (UNKNOWN_TENANT: an id no one has). */
function headerTenant(naming: Naming, actor: PropertyActor): number | null {
  const { header } = naming
  if (header === null) return null
  if (header === 'unknown') return UNKNOWN_TENANT
  if (header.of === 'any') return header.index % TENANT_NAMES.length
  const own = [...actor.memberOf].sort()
  return own[header.index % own.length] as number
}

export function stepsArbitrary(
  actorCount: number,
  length: { min: number; max: number },
): fc.Arbitrary<Step[]> {
  const actor = fc.nat({ max: actorCount - 1 })
  const naming = namingArbitrary()
  const note = fc.nat({ max: 10_000 })
  const step: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('create' as const),
        actor,
        naming,
        title,
        smuggle: fc.option(fc.nat({ max: TENANT_NAMES.length - 1 }), { freq: 2 }),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('list' as const), actor, naming }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constantFrom('get' as const, 'delete' as const),
        actor,
        naming,
        note,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('patch' as const), actor, naming, note, title }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('batch' as const),
        actor,
        naming,
        titles: fc.array(title, { minLength: 1, maxLength: 4 }),
        failAfter: fc.option(fc.nat({ max: 4 }), { freq: 2 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('switch' as const),
        actor,
        tenant: fc.nat({ max: TENANT_NAMES.length - 1 }),
      }),
    },
  )
  return fc.array(step, { minLength: length.min, maxLength: length.max })
}

async function snapshot(world: PropertyWorld): Promise<Row[]> {
  const { rows } = await world.owner.query<Row>(
    'SELECT id, tenant_id, title FROM notes ORDER BY id',
  )
  return rows
}

class Violation extends Error {}

function check(condition: boolean, message: () => string): asserts condition {
  if (!condition) throw new Violation(message())
}

const same = (x: unknown, y: unknown) => isDeepStrictEqual(x, y)
const byId = (x: { id: string }, y: { id: string }) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)

/** One run: a fresh model from the table, then every step checked as it happens. */
export async function runSteps(world: PropertyWorld, steps: readonly Step[]): Promise<void> {
  const { t, tenantIds, actors } = world
  /** The model: the notes that live now, by id. Starts from the table as it is. */
  const live = new Map<string, Row>((await snapshot(world)).map((row) => [row.id, row]))
  /** The token of each actor's last successful switch in this run, and its tenant. */
  const switched = new Map<number, { token: string; tenant: number }>()

  for (const [index, step] of steps.entries()) {
    const actor = actors[step.actor] as PropertyActor
    const where = () => `step ${index} ${JSON.stringify(step)} by ${actor.name}`
    const before = await snapshot(world)

    if (step.kind === 'switch') {
      const response = await t.app.inject({
        method: 'POST',
        url: `/tenants/${tenantIds[step.tenant]}/switch`,
        headers: bearer(actor.token),
      })
      count(world, step.kind, response.statusCode)
      if (actor.memberOf.has(step.tenant)) {
        check(
          response.statusCode === 200,
          () => `${where()}: ${response.statusCode} ${response.body}`,
        )
        const token = response.json<{ accessToken: string }>().accessToken
        switched.set(step.actor, { token, tenant: step.tenant })
      } else {
        expectError(response, 404, 'ACME_TENANCY_TENANT_NOT_FOUND', where)
      }
      check(same(await snapshot(world), before), () => `${where()}: a switch changed notes`)
      continue
    }

    // The tenant the request names, as the model resolves it: header, else the switched token.
    const last = step.naming.switched ? switched.get(step.actor) : undefined
    const token = last?.token ?? actor.token
    const header = headerTenant(step.naming, actor)
    const named = header ?? last?.tenant ?? null
    const tenantId =
      named === null ? null : named === UNKNOWN_TENANT ? randomUUID() : (tenantIds[named] as string)
    const headers = {
      ...bearer(token),
      ...(header === null || tenantId === null ? {} : { 'x-tenant-id': tenantId }),
    }
    const pickNote = 'note' in step ? pick(world, step.note) : undefined
    const response = await send(t, step, headers, pickNote, tenantIds)
    const after = await snapshot(world)
    count(world, step.kind, response.statusCode)

    // Invariant: nothing the response shows belongs to another tenant than the one named.
    const shown = shownBody(response)
    for (const row of [...before, ...after]) {
      if (row.tenant_id !== tenantId) {
        check(!shown.includes(row.id), () => `${where()}: shows ${row.id} of ${row.tenant_id}`)
      }
    }
    // Invariant: no row ever leaves the tenant it was created in.
    for (const row of after) {
      const origin = world.createdIn.get(row.id)
      if (origin !== undefined) {
        check(origin === row.tenant_id, () => `${where()}: ${row.id} moved from ${origin}`)
      }
    }

    if (tenantId === null) {
      expectError(response, 400, 'ACME_TENANCY_TENANT_REQUIRED', where)
    } else if (named === null || !actor.memberOf.has(named)) {
      expectError(response, 404, 'ACME_TENANCY_TENANT_NOT_FOUND', where)
    }
    if (tenantId === null || named === null || !actor.memberOf.has(named)) {
      check(same(after, before), () => `${where()}: a refused request changed notes`)
      continue
    }

    // Invariant: a write touches only the named tenant's rows.
    const others = (rows: Row[]) => rows.filter((row) => row.tenant_id !== tenantId)
    check(same(others(after), others(before)), () => `${where()}: another tenant's rows changed`)

    const inTenant = (id: string | undefined) =>
      id !== undefined && live.get(id)?.tenant_id === tenantId
    switch (step.kind) {
      case 'create': {
        check(
          response.statusCode === 201,
          () => `${where()}: ${response.statusCode} ${response.body}`,
        )
        const note = response.json<NoteBody>()
        check(note.tenantId === tenantId, () => `${where()}: created in ${note.tenantId}`)
        record(world, live, { id: note.id, tenant_id: tenantId, title: step.title })
        break
      }
      case 'list': {
        check(
          response.statusCode === 200,
          () => `${where()}: ${response.statusCode} ${response.body}`,
        )
        const items = response.json<{ items: NoteBody[] }>().items
        const expected = [...live.values()].filter((row) => row.tenant_id === tenantId)
        const listed = items.map((item) => ({
          id: item.id,
          tenant_id: item.tenantId,
          title: item.title,
        }))
        check(
          same(listed.sort(byId), expected.sort(byId)),
          () => `${where()}: listed ${JSON.stringify(listed)}, model ${JSON.stringify(expected)}`,
        )
        break
      }
      case 'get':
      case 'patch':
      case 'delete': {
        if (!inTenant(pickNote)) {
          expectError(response, 404, 'ACME_TENANCY_NOT_FOUND', where)
          break
        }
        const id = pickNote as string
        const expectedStatus = step.kind === 'delete' ? 204 : 200
        check(
          response.statusCode === expectedStatus,
          () => `${where()}: ${response.statusCode} ${response.body}`,
        )
        if (step.kind === 'delete') live.delete(id)
        else {
          const note = response.json<NoteBody>()
          const title = step.kind === 'patch' ? step.title : live.get(id)?.title
          check(
            same(note, { id, tenantId, title }),
            () => `${where()}: answered ${JSON.stringify(note)}`,
          )
          live.set(id, { id, tenant_id: tenantId, title: note.title })
        }
        break
      }
      case 'batch': {
        const fails = step.failAfter !== null && step.failAfter < step.titles.length
        if (fails) {
          check(
            response.statusCode === 500,
            () => `${where()}: ${response.statusCode} ${response.body}`,
          )
          break
        }
        check(
          response.statusCode === 201,
          () => `${where()}: ${response.statusCode} ${response.body}`,
        )
        const known = new Set(before.map((row) => row.id))
        const added = after.filter((row) => !known.has(row.id))
        check(
          same(added.map((row) => row.title).sort(), [...step.titles].sort()),
          () => `${where()}: the batch wrote ${JSON.stringify(added)}`,
        )
        for (const row of added) record(world, live, { ...row, tenant_id: tenantId })
        break
      }
    }

    // Invariant: the table holds exactly the model's notes (failed requests persisted nothing).
    check(
      same(after, [...live.values()].sort(byId)),
      () => `${where()}: table ${JSON.stringify(after)} differs from the model`,
    )
  }
}

function count(world: PropertyWorld, kind: Step['kind'], status: number): void {
  const key = `${kind} ${status}`
  world.outcomes.set(key, (world.outcomes.get(key) ?? 0) + 1)
}

/** The response body without what echoes the request (its URL and id). */
function shownBody(response: LightMyRequestResponse): string {
  if (response.body === '') return ''
  const {
    instance: _instance,
    requestId: _requestId,
    ...rest
  } = response.json<Record<string, unknown>>()
  return JSON.stringify(rest)
}

/** A note id from every note ever created (any tenant, deleted ones too), or an unknown one. */
function pick(world: PropertyWorld, index: number): string {
  if (world.everCreated.length === 0) return randomUUID()
  return world.everCreated[index % world.everCreated.length] as string
}

function record(world: PropertyWorld, live: Map<string, Row>, row: Row): void {
  live.set(row.id, row)
  world.everCreated.push(row.id)
  world.createdIn.set(row.id, row.tenant_id)
}

function expectError(
  response: LightMyRequestResponse,
  status: number,
  code: string,
  where: () => string,
): void {
  const body = response.json<{ code?: string }>()
  check(
    response.statusCode === status && body.code === code,
    () => `${where()}: expected ${status} ${code}, got ${response.statusCode} ${response.body}`,
  )
}

function send(
  t: TenancyTestApp,
  step: Exclude<Step, { kind: 'switch' }>,
  headers: Record<string, string>,
  note: string | undefined,
  tenantIds: readonly string[],
): Promise<LightMyRequestResponse> {
  switch (step.kind) {
    case 'create':
      return t.app.inject({
        method: 'POST',
        url: '/notes',
        headers,
        payload: {
          title: step.title,
          // Smuggles a tenant id (sometimes another's) in the body: it must be ignored.
          ...(step.smuggle === null ? {} : { tenantId: tenantIds[step.smuggle] }),
        },
      })
    case 'list':
      return t.app.inject({ url: '/notes', headers })
    case 'get':
      return t.app.inject({ url: `/notes/${note}`, headers })
    case 'patch':
      return t.app.inject({
        method: 'PATCH',
        url: `/notes/${note}`,
        headers,
        payload: { title: step.title },
      })
    case 'delete':
      return t.app.inject({ method: 'DELETE', url: `/notes/${note}`, headers })
    case 'batch':
      return t.app.inject({
        method: 'POST',
        url: '/notes/batch',
        headers,
        payload: {
          titles: step.titles,
          ...(step.failAfter === null ? {} : { failAfter: step.failAfter }),
        },
      })
  }
}

export interface PropertySettings {
  seed: number
  numRuns: number
  steps: { min: number; max: number }
}

/** Runs the property; the error of a failing run names the seed and the shrunk steps. */
export async function checkNotesProperty(
  world: PropertyWorld,
  settings: PropertySettings,
): Promise<{ runs: number; steps: number }> {
  let runs = 0
  let steps = 0
  await fc.assert(
    fc.asyncProperty(stepsArbitrary(world.actors.length, settings.steps), async (sequence) => {
      runs += 1
      steps += sequence.length
      await runSteps(world, sequence)
    }),
    { seed: settings.seed, numRuns: settings.numRuns, includeErrorInReport: true },
  )
  return { runs, steps }
}
