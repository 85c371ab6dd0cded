import { createRequire } from 'node:module'
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
  /**
   * app.prisma on a node-postgres pool of this many connections, handed to PrismaPg, which
   * request.db then shares: what app.prisma runs on is the very connection request.db used.
   */
  sharedPool?: number
  /** Core options on top of the test defaults. */
  core?: Partial<CoreOptions>
}

type Adapter = NonNullable<ConstructorParameters<typeof PrismaClient>[0]['adapter']>

/** `@prisma/adapter-pg` and the node-postgres it loads: core's dependencies, not this package's. */
export function adapterPg(): {
  PrismaPg: new (poolOrConfig: unknown) => Adapter
  pg: typeof import('pg')
} {
  const fromCore = createRequire(createRequire(import.meta.url).resolve('@acme/core'))
  const adapterPath = fromCore.resolve('@prisma/adapter-pg')
  const { PrismaPg } = fromCore(adapterPath) as { PrismaPg: new (poolOrConfig: unknown) => Adapter }
  return { PrismaPg, pg: createRequire(adapterPath)('pg') as typeof import('pg') }
}

interface SharedPool {
  prisma: PrismaClient
  end(): Promise<void>
}

/**
 * The app's client on a `pg.Pool` of `max` connections. The pool must be an instance of the
 * node-postgres that `@prisma/adapter-pg` loads (it checks), which this package does not depend
 * on: both are reached through core's dependencies.
 */
function sharedPoolClient(url: string, max: number): SharedPool {
  const { PrismaPg, pg } = adapterPg()
  const pool = new pg.Pool({ connectionString: url, max })
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) })
  return { prisma, end: () => pool.end() }
}

export type TenancyTestApp = AppRoleTestApp

/** Core, auth and tenancy on a fresh database, connected as the unprivileged app role. */
export async function createTenancyApp(
  options: Partial<TenancyOptions> = {},
  harness: TenancyHarness = {},
): Promise<TenancyTestApp> {
  const { label = 'tenancy', redisPrefix, redis, poolSize, sharedPool } = harness
  let { database, core } = harness
  let shared: SharedPool | null = null
  const ownsDatabase = sharedPool !== undefined && database === undefined
  if (sharedPool !== undefined) {
    database ??= await createTenancyDatabase(label)
    shared = sharedPoolClient(database.app.url, sharedPool)
    core = { ...core, prisma: shared.prisma, database: undefined } as Partial<CoreOptions>
  }
  const created = await createAppRoleTestApp({
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
  if (!shared) return created
  const close = created.close.bind(created)
  const pool = shared
  return Object.assign(created, {
    async close() {
      await close()
      await pool.end()
      if (ownsDatabase) await database?.drop()
    },
  })
}
