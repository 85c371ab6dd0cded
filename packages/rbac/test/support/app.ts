import acmeAuth, { type AuthOptions } from '@acme/auth'
import type { CoreOptions } from '@acme/core'
import acmeTenancy, { type TenancyOptions } from '@acme/tenancy'
import {
  type AppRoleDatabase,
  type AppRoleTestApp,
  createAppRoleDatabase,
  createAppRoleTestApp,
  schemaMigrationsDir,
} from '@acme/test-support'
import type { FastifyInstance } from 'fastify'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import acmeRbac, { type RbacOptions } from '../../src/index.js'

/** Built for this run from the merged schema of the fragments (vitest.config.ts's globalSetup). */
export const migrationsDir = schemaMigrationsDir()
export { bearer, createTenant, signUp, TEST_PASSWORD as PASSWORD } from '@acme/test-support'

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

export type RbacTestApp = AppRoleTestApp

/** Core, auth, tenancy (unless told not to) and rbac on a fresh database, as the app role. */
export async function createRbacApp(
  options: Partial<RbacOptions> = {},
  harness: TenancyHarness = {},
): Promise<RbacTestApp> {
  const { label = 'rbac', database, redisPrefix, redis, poolSize, core } = harness
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
}
