import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, createTenancyApp, type TenancyTestApp } from './support/app.js'
import { comparable } from './support/compare.js'
import { notesRoutes } from './support/notes-routes.js'
import { checksumRowsMentioning } from './support/probe-checksum.js'
import { combinations, type IdKind, kindOfParameter } from './support/probe-ids.js'
import { claimsOf, withEditedClaims, withFlippedPayloadChar } from './support/probe-jwt.js'
import {
  fillPath,
  isListOperation,
  label,
  type OpenApiDocument,
  type Operation,
  operationsOf,
  requestSchemaOf,
  sampleOf,
} from './support/probe-openapi.js'
import { type SeededTenant, type SeededUser, seedTenant } from './support/probe-seed.js'

/**
 * AZ-01, AZ-02 and JWT-06: tenant A's people, with every route of the OpenAPI document that takes
 * an id, try tenant B's objects. The routes come from the document the app serves, so a plugin
 * added later is probed without editing this file.
 */

let t: TenancyTestApp
let document: OpenApiDocument
let A: SeededTenant
let B: SeededTenant

/**
 * Statuses other than 404 that the rules allow for a given operation when A names B's objects,
 * with the rule. None today: tenant routes resolve the tenant (membership included) before any
 * role check, and auth's user-owned routes check ownership before asking for re-authentication,
 * so no 403 ever tells A that B's object exists. Add an entry only with the rule that allows it.
 */
const ALLOWED_INSTEAD_OF_404 = new Map<string, { status: 403; rule: string }>()

const as = (who: SeededUser, tenantId: string) => ({
  ...bearer(who.token),
  'x-tenant-id': tenantId,
})

/** One request; a body (any JSON value) is sent as JSON. */
const call = (
  op: Pick<Operation, 'method'>,
  url: string,
  headers: Record<string, string>,
  body: unknown,
): Promise<LightMyRequestResponse> =>
  t.app.inject({
    method: op.method,
    url,
    ...(body === undefined
      ? { headers }
      : {
          headers: { ...headers, 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        }),
  })

/** Which of B's secrets (ids, emails, titles, slug) a value shows. */
function leaked(value: unknown, tenant: SeededTenant = B): string[] {
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return tenant.secrets.filter((secret) => text.includes(secret))
}

/** Every row of B, and every row anywhere that points at one of B's objects. */
const checksumB = () =>
  checksumRowsMentioning(t.db.owner.url, [...new Set(Object.values(B.ids).flat())])

const kindOf = (op: Operation, name: string): IdKind | null => kindOfParameter(op.path, name)

/** A minimal valid body for the operation, or undefined when it takes none. */
function bodyFor(op: Operation): unknown {
  const schema = requestSchemaOf(op)
  return schema === undefined ? undefined : sampleOf(schema, document)
}

interface Substitution {
  values: Record<string, string>
  /** The parameters given one of B's ids (the rest name A's own tenant). */
  foreign: string[]
}

/**
 * B's ids for every parameter (every combination of B's seeded ids), plus, when the route also
 * names a tenant, A's own tenant with B's ids for the rest: B's member, invitation... reached
 * through A's path.
 */
function substitutionsFor(op: Operation): Substitution[] {
  const choices = op.pathParams.map((name) => {
    const kind = kindOf(op, name)
    return [name, kind ? B.ids[kind] : []] as const
  })
  const allB = combinations(choices).map((values) => ({ values, foreign: op.pathParams }))
  const tenantParam = op.pathParams.find((name) => kindOf(op, name) === 'tenant')
  if (!tenantParam || op.pathParams.length === 1) return allB
  const throughA = combinations(choices.filter(([name]) => name !== tenantParam)).map((values) => ({
    values: { ...values, [tenantParam]: A.id },
    foreign: op.pathParams.filter((name) => name !== tenantParam),
  }))
  return [...allB, ...throughA]
}

const withUnknownIds = (substitution: Substitution): Record<string, string> => ({
  ...substitution.values,
  ...Object.fromEntries(substitution.foreign.map((name) => [name, randomUUID()])),
})

beforeAll(async () => {
  t = await createTenancyApp(
    {},
    {
      label: 'probe',
      routes: notesRoutes,
      // The per-IP limit would stop a walk of a few hundred requests from one test client; the
      // per-tenant limit stays on (both tenants are on the enterprise plan).
      core: { rateLimit: { max: 100_000 } },
    },
  )
  A = await seedTenant(t, 'a')
  B = await seedTenant(t, 'b')
  const response = await t.app.inject({ url: '/docs/openapi.json' })
  expect(response.statusCode).toBe(200)
  document = response.json<OpenApiDocument>()
})

afterAll(async () => {
  await t?.close()
})

describe('AZ-01: every id-taking operation, as tenant A, with tenant B’s ids', () => {
  it('answers 404 exactly like an unknown id and leaves every row of B unchanged', async () => {
    const idOperations = operationsOf(document).filter((op) => op.pathParams.length > 0)
    // The walk covers every plugin of the app: tenancy's, auth's and the app's own routes.
    expect(idOperations.map(label)).toEqual(
      expect.arrayContaining([
        'DELETE /tenants/{tenantId}',
        'PATCH /tenants/{tenantId}/members/{userId}',
        'DELETE /tenants/{tenantId}/invitations/{invitationId}',
        'DELETE /auth/sessions/{sessionId}',
        'DELETE /auth/api-keys/{keyId}',
        'PATCH /notes/{id}',
      ]),
    )
    // A parameter the probe cannot fill fails the test: a new route is never silently skipped.
    const unfillable = idOperations.flatMap((op) =>
      op.pathParams
        .filter((name) => {
          const kind = kindOf(op, name)
          return kind === null || B.ids[kind].length === 0
        })
        .map((name) => `${label(op)}: {${name}}`),
    )
    expect(unfillable, 'seed ids of this kind in probe-seed.ts and probe-ids.ts').toEqual([])

    const before = await checksumB()
    const probed = new Set<string>()
    let requests = 0
    for (const actor of [A.owner, A.admin]) {
      for (const op of idOperations) {
        const body = bodyFor(op)
        for (const substitution of substitutionsFor(op)) {
          const url = fillPath(op.path, substitution.values)
          const what = `${op.method} ${url} as A's ${actor === A.owner ? 'owner' : 'admin'}`
          const foreign = await call(op, url, as(actor, A.id), body)
          const unknownUrl = fillPath(op.path, withUnknownIds(substitution))
          const unknown = await call(op, unknownUrl, as(actor, A.id), body)
          requests += 2
          probed.add(label(op))
          const allowed = ALLOWED_INSTEAD_OF_404.get(label(op))
          if (allowed && foreign.statusCode === allowed.status) continue
          expect.soft(foreign.statusCode, `${what}: ${foreign.body}`).toBe(404)
          expect.soft(comparable(foreign), what).toEqual(comparable(unknown))
          expect.soft(leaked(comparable(foreign)), what).toEqual([])
        }
      }
    }
    const after = await checksumB()

    console.info(
      `cross-tenant probe: ${probed.size} of ${idOperations.length} id-taking operations, ` +
        `${requests} requests`,
    )
    expect(probed.size).toBeGreaterThanOrEqual(idOperations.length)
    // The checksums cover B's data, not an empty set.
    for (const table of ['tenants', 'memberships', 'invitations', 'notes', 'users', 'api_keys']) {
      expect(before[table]?.rows, table).toBeGreaterThan(0)
    }
    expect(before.auth_sessions?.rows).toBeGreaterThanOrEqual(4)
    expect(after).toEqual(before)
  })
})

describe('AZ-02: every list operation, as tenant A', () => {
  it('shows none of B’s rows and exactly A’s seeded rows', async () => {
    const lists = operationsOf(document).filter((op) => isListOperation(op, document))
    expect(lists.map(label)).toEqual(
      expect.arrayContaining([
        'GET /notes',
        'GET /tenants',
        'GET /tenants/{tenantId}/members',
        'GET /tenants/{tenantId}/invitations',
        'GET /auth/sessions',
        'GET /auth/api-keys',
        'GET /tenants/{tenantId}/api-keys',
      ]),
    )
    // A's own seeded rows, for the lists whose content the seed fixes.
    const expectedTotals: Record<string, number> = {
      'GET /notes': A.counts.notes,
      'GET /tenants': 1,
      'GET /tenants/{tenantId}/members': A.counts.members,
      'GET /tenants/{tenantId}/invitations': A.counts.invitations,
      'GET /auth/api-keys': A.counts.ownerApiKeys,
      'GET /tenants/{tenantId}/api-keys': A.counts.tenantApiKeys,
    }
    for (const op of lists) {
      const values = Object.fromEntries(
        op.pathParams.map((name) => {
          const kind = kindOf(op, name)
          const id = kind ? A.ids[kind][0] : undefined
          if (id === undefined) throw new Error(`${label(op)}: cannot fill {${name}} with A's ids`)
          return [name, id]
        }),
      )
      const response = await call(op, fillPath(op.path, values), as(A.owner, A.id), undefined)
      expect.soft(response.statusCode, `${label(op)}: ${response.body}`).toBe(200)
      const { items } = response.json<{ items: unknown[] }>()
      expect.soft(leaked(items), `${label(op)} shows B's rows`).toEqual([])
      const expected = expectedTotals[label(op)]
      if (expected !== undefined) {
        expect.soft(items, `${label(op)}: A's seeded rows`).toHaveLength(expected)
      }
    }
  })
})

describe('AZ-04: no GET response carries a credential', () => {
  // Field names and values that must never leave the server, whoever asks.
  const forbidden =
    /passwordHash|password_hash|tokenHash|token_hash|keyHash|key_hash|codeHash|encryptedSecret|"secret"|whsec_|"apiKey"|\$argon2/i

  it('holds for every GET operation of the document, called as A’s owner on A’s own ids', async () => {
    const gets = operationsOf(document).filter((op) => op.method === 'GET')
    expect(gets.length).toBeGreaterThan(10)
    for (const op of gets) {
      const values = Object.fromEntries(
        op.pathParams.map((name) => {
          const kind = kindOf(op, name)
          const id = kind ? A.ids[kind][0] : undefined
          if (id === undefined) throw new Error(`${label(op)}: cannot fill {${name}} with A's ids`)
          return [name, id]
        }),
      )
      const response = await call(op, fillPath(op.path, values), as(A.owner, A.id), undefined)
      expect.soft(response.statusCode, `${label(op)}: ${response.body}`).toBeLessThan(500)
      expect.soft(response.body, `${label(op)} leaks a credential`).not.toMatch(forbidden)
    }
  })
})

describe('JWT-06: a token for tenant A never reaches tenant B', () => {
  let tenantAToken: string

  beforeAll(async () => {
    const switched = await t.app.inject({
      method: 'POST',
      url: `/tenants/${A.id}/switch`,
      headers: bearer(A.owner.token),
    })
    expect(switched.statusCode).toBe(200)
    tenantAToken = switched.json<{ accessToken: string }>().accessToken
    expect(claimsOf(tenantAToken).tid).toBe(A.id)
  })

  it('works in tenant A without naming it', async () => {
    const response = await t.app.inject({ url: '/notes', headers: bearer(tenantAToken) })
    expect(response.statusCode).toBe(200)
    expect(response.json<{ items: unknown[] }>().items).toHaveLength(A.counts.notes)
  })

  it('answers x-tenant-id: B, or a /tenants/B path, with the 404 of an unknown tenant', async () => {
    const before = await checksumB()
    const [bNote] = B.ids.note
    const [aNote] = A.ids.note
    const headerProbes = [
      { method: 'GET', url: '/notes' },
      { method: 'POST', url: '/notes', body: { title: 'via header' } },
      { method: 'GET', url: `/notes/${bNote}` },
      { method: 'PATCH', url: `/notes/${bNote}`, body: { title: 'via header' } },
      { method: 'DELETE', url: `/notes/${bNote}` },
      // Even A's own note: the request is in B, where A's owner is no one.
      { method: 'GET', url: `/notes/${aNote}` },
    ] as const
    for (const probe of headerProbes) {
      const what = `${probe.method} ${probe.url} with x-tenant-id: B`
      const body = 'body' in probe ? probe.body : undefined
      const foreign = await call(
        probe,
        probe.url,
        { ...bearer(tenantAToken), 'x-tenant-id': B.id },
        body,
      )
      const unknown = await call(
        probe,
        probe.url,
        { ...bearer(tenantAToken), 'x-tenant-id': randomUUID() },
        body,
      )
      expect.soft(foreign.statusCode, what).toBe(404)
      expect.soft(foreign.json<{ code: string }>().code, what).toBe('ACME_TENANCY_TENANT_NOT_FOUND')
      expect.soft(comparable(foreign), what).toEqual(comparable(unknown))
      expect.soft(leaked(comparable(foreign)), what).toEqual([])
    }
    for (const [method, suffix] of [
      ['GET', ''],
      ['GET', '/members'],
      ['GET', '/invitations'],
      ['POST', '/switch'],
    ] as const) {
      const what = `${method} /tenants/B${suffix} with a token for A`
      const foreign = await call(
        { method },
        `/tenants/${B.id}${suffix}`,
        bearer(tenantAToken),
        undefined,
      )
      const unknown = await call(
        { method },
        `/tenants/${randomUUID()}${suffix}`,
        bearer(tenantAToken),
        undefined,
      )
      expect.soft(foreign.statusCode, what).toBe(404)
      expect.soft(comparable(foreign), what).toEqual(comparable(unknown))
      expect.soft(leaked(comparable(foreign)), what).toEqual([])
    }
    expect(await checksumB()).toEqual(before)
  })

  it('refuses a token whose payload was edited to name B, or changed by one character, with 401', async () => {
    const forged = withEditedClaims(tenantAToken, (claims) => ({ ...claims, tid: B.id }))
    expect(claimsOf(forged).tid).toBe(B.id)
    const flipped = withFlippedPayloadChar(tenantAToken)
    for (const token of [forged, flipped]) {
      for (const url of ['/notes', `/tenants/${B.id}/members`, `/notes/${B.ids.note[0]}`]) {
        const response = await t.app.inject({ url, headers: bearer(token) })
        expect.soft(response.statusCode, url).toBe(401)
        expect.soft(leaked(comparable(response)), url).toEqual([])
      }
    }
  })
})

describe('the probe’s control', () => {
  /**
   * Proves the walk above probed real objects through reachable routes: the same operations, by
   * whoever may act on B's objects (B's owner; a session's or key's own user), succeed with the
   * same sampled bodies.
   * One id per kind, the least disruptive one, ordered so that nothing the next call needs is
   * gone (reads, then creates, then updates, then deletes, and deleting the tenant last). It ends
   * B, so it runs last.
   */
  it('lets B’s rightful users act on every id the walk used', async () => {
    const order = (op: Operation) =>
      // Leaving the tenant goes just before deleting it.
      op.method === 'DELETE' && op.path.endsWith('/membership')
        ? 8
        : op.method === 'DELETE' &&
            op.pathParams.length === 1 &&
            kindOf(op, op.pathParams[0] ?? '') === 'tenant'
          ? 9
          : ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].indexOf(op.method)
    const idOperations = operationsOf(document)
      .filter((op) => op.pathParams.length > 0)
      .sort((x, y) => order(x) - order(y))
    const unreachable: string[] = []
    // An object one DELETE removed is not there for the next route that deletes its kind.
    const deleted = new Set<string>()
    for (const op of idOperations) {
      const values: Record<string, string> = {}
      for (const name of op.pathParams) {
        const kind = kindOf(op, name)
        const id = kind ? B.ids[kind].find((candidate) => !deleted.has(candidate)) : undefined
        if (id === undefined) throw new Error(`${label(op)}: no B id for {${name}}`)
        values[name] = id
      }
      // Leaving is one's own act; the owner cannot (last owner), so someone still a member leaves.
      const actor = op.path.endsWith('/membership')
        ? ([B.member, B.admin].find((user) => !deleted.has(user.userId)) ?? B.admin)
        : (Object.values(values)
            .map((id) => B.actorOf.get(id))
            .find((user) => user !== undefined) ?? B.owner)
      const url = fillPath(op.path, values)
      const response = await call(op, url, as(actor, B.id), bodyFor(op))
      if (op.method === 'DELETE' && response.statusCode < 400) {
        const last = op.pathParams.at(-1)
        if (last && kindOf(op, last) !== 'tenant') deleted.add(values[last] ?? '')
      }
      // 2xx only: a 400 would mean the sampled body is invalid, so the walk's body proved nothing.
      if (response.statusCode >= 400) {
        unreachable.push(`${op.method} ${url}: ${response.statusCode} ${response.body}`)
      }
    }
    expect(
      unreachable,
      'operations B’s own users cannot reach: the walk proved nothing there',
    ).toEqual([])
  })
})
