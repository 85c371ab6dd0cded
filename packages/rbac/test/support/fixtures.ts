import type { LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { expect } from 'vitest'
import type { RbacOptions } from '../../src/index.js'
import {
  bearer,
  createRbacApp,
  createTenant,
  type RbacTestApp,
  signUp,
  type TenancyHarness,
} from './app.js'
import { docsOptions, docsRoutes } from './docs-routes.js'

/**
 * Many requests from one address: no per-IP or per-tenant limits in the way, and a plan without
 * a seat limit (the limits have tests of their own).
 */
export const QUIET: TenancyHarness = {
  core: { rateLimit: false },
  auth: { throttle: { ipMax: 10_000 } },
  tenancy: { rateLimit: { enabled: false }, defaultPlan: 'enterprise' },
}

/** Core, auth, tenancy and rbac with the documents of docs-routes.ts. */
export function createDocsApp(
  label: string,
  options: Partial<RbacOptions> = {},
  harness: TenancyHarness = {},
): Promise<RbacTestApp> {
  return createRbacApp(docsOptions(options), {
    ...QUIET,
    label,
    routes: docsRoutes,
    ...harness,
    // GET /docs is the documents' route here: the API reference moves to /reference.
    core: { ...QUIET.core, docs: { routePrefix: '/reference' }, ...harness.core },
  })
}

export interface User {
  userId: string
  token: string
  email: string
}

let counter = 0
/** A fresh address (unique within the test file: files each have their own database). */
export const email = (name: string) => `${name}.${++counter}@initech.test`

export async function user(t: RbacTestApp, name: string): Promise<User> {
  const address = email(name)
  const signed = await signUp(t, address)
  return { userId: signed.userId, token: signed.token, email: address }
}

/** A user who belongs to the tenant with `roles` (set directly, not through a guarded route). */
export async function member(
  t: RbacTestApp,
  tenantId: string,
  name: string,
  roles: string[],
): Promise<User> {
  const created = await user(t, name)
  await t.app.tenancy.tenants.addMember(tenantId, created.userId, roles)
  return created
}

export interface Team {
  tenantId: string
  owner: User
  admin: User
  member: User
  viewer: User
}

/** A tenant with one user of each system role. */
export async function team(t: RbacTestApp, name: string): Promise<Team> {
  const owner = await user(t, `${name}-owner`)
  const tenant = await createTenant(t, owner.token, `${name} ${counter}`)
  return {
    tenantId: tenant.id,
    owner,
    admin: await member(t, tenant.id, `${name}-admin`, ['admin']),
    member: await member(t, tenant.id, `${name}-member`, ['member']),
    viewer: await member(t, tenant.id, `${name}-viewer`, ['viewer']),
  }
}

/** Headers of `who` working in `tenantId`. */
export const as = (who: { token: string }, tenantId?: string) => ({
  ...bearer(who.token),
  ...(tenantId ? { 'x-tenant-id': tenantId } : {}),
})

export interface Call {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  url: string
  payload?: unknown
}

export function call(
  t: RbacTestApp,
  who: { token: string } | null,
  tenantId: string | undefined,
  request: Call,
): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method: request.method ?? 'GET',
    url: request.url,
    headers: who ? as(who, tenantId) : tenantId ? { 'x-tenant-id': tenantId } : {},
    ...(request.payload === undefined ? {} : { payload: request.payload as object }),
  })
}

/** A problem+json answer with this status and code. */
export function expectProblem(response: LightMyRequestResponse, status: number, code: string) {
  expect(response.statusCode, response.body).toBe(status)
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(response.json().code, response.body).toBe(code)
}

/** Queries as the migration owner: what is really stored, past every policy. */
export async function ownerQuery<Row extends Record<string, unknown>>(
  t: RbacTestApp,
  sql: string,
  params: unknown[] = [],
): Promise<Row[]> {
  const client = new pg.Client({ connectionString: t.db.owner.url })
  await client.connect()
  try {
    return (await client.query<Row>(sql, params)).rows
  } finally {
    await client.end()
  }
}

/** Everything rbac and tenancy's role decisions could change, in a stable order. */
export async function authorizationState(t: RbacTestApp) {
  const [roles, memberships, invitations, assignments] = await Promise.all([
    ownerQuery(
      t,
      'SELECT id, tenant_id, name, description, permissions, inherits, updated_at FROM rbac_roles ORDER BY id',
    ),
    ownerQuery(t, 'SELECT tenant_id, user_id, roles FROM memberships ORDER BY tenant_id, user_id'),
    ownerQuery(
      t,
      'SELECT id, tenant_id, email, roles, revoked_at, accepted_at FROM invitations ORDER BY id',
    ),
    ownerQuery(t, 'SELECT user_id, roles, updated_at FROM rbac_assignments ORDER BY user_id'),
  ])
  return { roles, memberships, invitations, assignments }
}

/** Polls `probe` until it returns true or `withinMs` passes; answers the time it took. */
export async function waitUntil(
  probe: () => Promise<boolean>,
  withinMs: number,
  everyMs = 10,
): Promise<number> {
  const started = performance.now()
  while (!(await probe())) {
    if (performance.now() - started > withinMs) throw new Error(`not within ${withinMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  return performance.now() - started
}
