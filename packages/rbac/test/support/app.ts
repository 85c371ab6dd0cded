import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import acmeAuth, { type AuthOptions } from '@acme/auth'
import { ensureAppRole } from '@acme/cli'
import type { CoreOptions } from '@acme/core'
import acmeTenancy, { type TenancyOptions } from '@acme/tenancy'
import {
  createTestApp,
  createTestDatabase,
  TEST_DATABASE_URL,
  type TestApp,
  type TestDatabase,
} from '@acme/test-support'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import acmeRbac, { type RbacOptions } from '../../src/index.js'

export const migrationsDir = fileURLToPath(new URL('../../prisma/migrations', import.meta.url))
export const PASSWORD = 'correct horse battery'

/** A database built by the migration owner, and the unprivileged role the app connects as. */
export interface TenancyDatabase {
  owner: TestDatabase
  /** The app's connection: a role with no superuser, no BYPASSRLS, owning nothing. */
  app: TestDatabase
  role: string
  drop(): Promise<void>
}

export async function createTenancyDatabase(label = 'rbac'): Promise<TenancyDatabase> {
  const owner = await createTestDatabase({ migrationsDir, label })
  const role = `acme_app_${randomBytes(5).toString('hex')}`
  const password = randomBytes(12).toString('hex')
  await ensureAppRole({ url: owner.url, role, password })
  const appUrl = new URL(owner.url)
  appUrl.username = role
  appUrl.password = password
  return {
    owner,
    app: { name: owner.name, url: appUrl.toString(), drop: async () => undefined },
    role,
    async drop() {
      await owner.drop()
      const admin = new pg.Client({ connectionString: TEST_DATABASE_URL })
      await admin.connect()
      try {
        await admin.query(`DROP ROLE IF EXISTS "${role}"`)
      } finally {
        await admin.end()
      }
    },
  }
}

export interface TenancyHarness {
  label?: string
  database?: TenancyDatabase
  redisPrefix?: string
  /** Real Redis (default), or none: core's in-process jobs and in-memory stand-ins. */
  redis?: boolean
  auth?: Partial<AuthOptions>
  routes?: (app: FastifyInstance) => void | Promise<void>
  poolSize?: number
  /** Register @acme/tenancy (default) or run rbac alone, with global roles. */
  tenancy?: boolean | Partial<TenancyOptions>
  /** Core options on top of the test defaults. */
  core?: Partial<CoreOptions>
}

export interface RbacTestApp extends TestApp {
  db: TenancyDatabase
}

/** Core, auth, tenancy (unless told not to) and rbac on a fresh database, as the app role. */
export async function createRbacApp(
  options: Partial<RbacOptions> = {},
  harness: TenancyHarness = {},
): Promise<RbacTestApp> {
  const ownsDatabase = harness.database === undefined
  const db = harness.database ?? (await createTenancyDatabase(harness.label ?? 'rbac'))
  const app = await createTestApp({
    label: harness.label ?? 'rbac',
    database: db.app,
    PrismaClient,
    ...(harness.redisPrefix ? { redisPrefix: harness.redisPrefix } : {}),
    ...(harness.redis === false ? { redis: false } : {}),
    core: {
      ...harness.core,
      ...(harness.poolSize
        ? { database: { url: db.app.url, PrismaClient, poolSize: harness.poolSize } }
        : {}),
    },
    setup: async (instance) => {
      await instance.register(acmeAuth, {
        jwt: { issuer: 'https://api.initech.test' },
        ...harness.auth,
      })
      if (harness.tenancy !== false) {
        await instance.register(
          acmeTenancy,
          harness.tenancy === true ? {} : (harness.tenancy ?? {}),
        )
      }
      await instance.register(acmeRbac, options)
      await harness.routes?.(instance)
    },
  })
  const close = app.close.bind(app)
  return Object.assign(app, {
    db,
    async close() {
      await close()
      if (ownsDatabase) await db.drop()
    },
  })
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** Registers and logs in a user; returns its id and access token. */
export async function signUp(
  t: TestApp,
  email: string,
): Promise<{ userId: string; token: string; refreshToken: string }> {
  await t.app.inject({
    method: 'POST',
    url: '/auth/register',
    payload: { email, password: PASSWORD },
  })
  const login = await t.app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password: PASSWORD },
  })
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.body}`)
  const body = login.json<{ accessToken: string; refreshToken: string; user: { id: string } }>()
  return { userId: body.user.id, token: body.accessToken, refreshToken: body.refreshToken }
}

export async function createTenant(
  t: TestApp,
  token: string,
  name: string,
): Promise<{ id: string; slug: string }> {
  const response: LightMyRequestResponse = await t.app.inject({
    method: 'POST',
    url: '/tenants',
    headers: bearer(token),
    payload: { name },
  })
  if (response.statusCode !== 201) throw new Error(`tenant creation failed: ${response.body}`)
  return response.json<{ id: string; slug: string }>()
}
