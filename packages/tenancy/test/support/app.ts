import acmeAuth, { type AuthOptions } from '@acme/auth'
import type { CoreOptions } from '@acme/core'
import {
  type AppRoleDatabase,
  type AppRoleTestApp,
  createAppRoleDatabase,
  createAppRoleTestApp,
  schemaMigrationsDir,
} from '@acme/test-support'
import type { FastifyInstance } from 'fastify'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import acmeTenancy, { type TenancyOptions } from '../../src/index.js'

/** Built for this run from the merged schema of the fragments (vitest.config.ts's globalSetup). */
export const migrationsDir = schemaMigrationsDir()
export { bearer, createTenant, signUp, TEST_PASSWORD as PASSWORD } from '@acme/test-support'

/** A database built by the migration owner, and the unprivileged role the app connects as. */
export type TenancyDatabase = AppRoleDatabase

export const createTenancyDatabase = (label = 'tenancy'): Promise<TenancyDatabase> =>
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
  /** Core options on top of the test defaults. */
  core?: Partial<CoreOptions>
}

export type TenancyTestApp = AppRoleTestApp

/** Core, auth and tenancy on a fresh database, connected as the unprivileged app role. */
export async function createTenancyApp(
  options: Partial<TenancyOptions> = {},
  harness: TenancyHarness = {},
): Promise<TenancyTestApp> {
  const { label = 'tenancy', database, redisPrefix, redis, poolSize, core } = harness
  return createAppRoleTestApp({
    label,
    migrationsDir,
    PrismaClient,
    ...(database ? { database } : {}),
    ...(redisPrefix ? { redisPrefix } : {}),
    ...(redis === false ? { redis: false } : {}),
    ...(poolSize ? { poolSize } : {}),
    ...(core ? { core } : {}),
    setup: async (instance) => {
      await instance.register(acmeAuth, {
        jwt: { issuer: 'https://api.initech.test' },
        ...harness.auth,
      })
      await instance.register(acmeTenancy, options)
      await harness.routes?.(instance)
    },
  })
}
