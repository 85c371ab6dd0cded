import { fileURLToPath } from 'node:url'
import acmeAuth, { type AuthOptions } from '@acme/auth'
import type { CoreOptions } from '@acme/core'
import acmeTenancy, { type TenancyOptions } from '@acme/tenancy'
import {
  type AppRoleDatabase,
  bearer,
  createAppRoleDatabase,
  createTestApp,
  type TestApp,
} from '@acme/test-support'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import acmeRbac, { type RbacOptions } from '../../src/index.js'

export const migrationsDir = fileURLToPath(new URL('../../prisma/migrations', import.meta.url))
export { bearer, signUp, TEST_PASSWORD as PASSWORD } from '@acme/test-support'

/** A database built by the migration owner, and the unprivileged role the app connects as. */
export type TenancyDatabase = AppRoleDatabase

export const createTenancyDatabase = (label = 'rbac'): Promise<TenancyDatabase> =>
  createAppRoleDatabase({ migrationsDir, label })

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
