import acmeAuth from '@acme/auth'
import type { CoreOptions } from '@acme/core'
import acmeRbac from '@acme/rbac'
import acmeTenancy, { type TenancyOptions } from '@acme/tenancy'
import {
  type AppRoleDatabase,
  type AppRoleTestApp,
  bearer,
  createAppRoleDatabase,
  createAppRoleTestApp,
  createTenant,
  schemaMigrationsDir,
  signUp,
} from '@acme/test-support'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { expect } from 'vitest'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import acmeFlags, { type FlagsOptions } from '../../src/index.js'

/** Built for this run from the merged schema of the fragments (vitest.config.ts's globalSetup). */
export const migrationsDir = schemaMigrationsDir()

export type FlagsTestApp = AppRoleTestApp

// Two instances of one deployment sign with the same key.
const sharedKey = {
  kty: 'OKP',
  crv: 'Ed25519',
  kid: 'test-key-1',
  alg: 'EdDSA',
  x: 'j3s0Pb6I5Rp6UXSvOTZY7GYp2L9q52kShCZcpzva2Hk',
  d: 'HsowerHb7hnZNvtT4eGREpiOXvvx6YqMhWUbkZnov1I',
}

export interface FlagsHarness {
  label?: string
  database?: AppRoleDatabase
  redisPrefix?: string
  redis?: boolean
  core?: Partial<CoreOptions>
  tenancy?: Partial<TenancyOptions>
  routes?: (app: FastifyInstance) => void | Promise<void>
}

/** Core, auth, tenancy, rbac and flags on a fresh database (or a shared one), as the app role. */
export async function createFlagsApp(
  options: FlagsOptions = {},
  harness: FlagsHarness = {},
): Promise<FlagsTestApp> {
  return createAppRoleTestApp({
    label: harness.label ?? 'flags',
    migrationsDir,
    PrismaClient,
    ...(harness.database ? { database: harness.database } : {}),
    ...(harness.redisPrefix ? { redisPrefix: harness.redisPrefix } : {}),
    ...(harness.redis === false ? { redis: false } : {}),
    core: { rateLimit: false, ...harness.core },
    setup: async (app) => {
      await app.register(acmeAuth, {
        jwt: { issuer: 'https://api.initech.test', privateKeys: [sharedKey] },
        throttle: { ipMax: 10_000 },
      })
      await app.register(acmeTenancy, { rateLimit: { enabled: false }, ...harness.tenancy })
      await app.register(acmeRbac)
      await app.register(acmeFlags, options)
      await harness.routes?.(app)
    },
  })
}

export const createFlagsDatabase = (label = 'flags') =>
  createAppRoleDatabase({ migrationsDir, label })

export interface User {
  userId: string
  token: string
}

let counter = 0

export async function user(t: FlagsTestApp, name: string): Promise<User> {
  const signed = await signUp(t, `${name}.${++counter}.${Date.now()}@initech.test`)
  return { userId: signed.userId, token: signed.token }
}

/** A tenant owned by a fresh user, on `plan`. */
export async function tenantOf(
  t: FlagsTestApp,
  name: string,
  plan?: string,
): Promise<{ tenantId: string; owner: User }> {
  const owner = await user(t, `${name}-owner`)
  const tenant = await createTenant(t, owner.token, `${name} ${++counter}`)
  if (plan) await t.app.tenancy.tenants.setPlan(tenant.id, plan)
  return { tenantId: tenant.id, owner }
}

export async function member(t: FlagsTestApp, tenantId: string, name: string, roles: string[]) {
  const created = await user(t, name)
  await t.app.tenancy.tenants.addMember(tenantId, created.userId, roles)
  return created
}

export const as = (who: { token: string }, tenantId?: string) => ({
  ...bearer(who.token),
  ...(tenantId ? { 'x-tenant-id': tenantId } : {}),
})

/** A problem+json answer with this status and code. */
export function expectProblem(response: LightMyRequestResponse, status: number, code: string) {
  expect(response.statusCode, response.body).toBe(status)
  expect(response.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(response.json().code, response.body).toBe(code)
}

/** Queries as the migration owner: what is really stored, past every policy. */
export async function ownerQuery<Row extends Record<string, unknown>>(
  t: FlagsTestApp,
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
