import { randomBytes } from 'node:crypto'
import { ensureAppRole } from '@acme/cli'
import type { PrismaClientConstructor } from '@acme/core'
import pg from 'pg'
import { createTestApp, type TestApp, type TestAppOptions } from './app.js'
import { createTestDatabase, type TestDatabase } from './database.js'
import { TEST_DATABASE_URL } from './env.js'

/** A database built by the migration owner, and the unprivileged role the app connects as. */
export interface AppRoleDatabase {
  owner: TestDatabase
  /** The app's connection: a role with no superuser, no BYPASSRLS, owning nothing. */
  app: TestDatabase
  role: string
  /** Drops the database, then the role (roles are cluster-wide). */
  drop(): Promise<void>
}

/**
 * For plugins whose guarantees rest on row-level security: migrations run as the owner (as
 * `acme migrate apply` does), and the app connects as a role made by `acme db app-role`, so
 * policies apply to it exactly as in production.
 */
export async function createAppRoleDatabase(options: {
  migrationsDir: string
  label: string
}): Promise<AppRoleDatabase> {
  const owner = await createTestDatabase(options)
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

export interface AppRoleTestAppOptions
  extends Pick<TestAppOptions, 'label' | 'redisPrefix' | 'redis' | 'core' | 'setup'> {
  label: string
  migrationsDir: string
  /** The generated client of the schema the migrations create. */
  PrismaClient: PrismaClientConstructor
  /** Share another app's database (two instances of one deployment); not dropped. */
  database?: AppRoleDatabase
  /** The app's pool size (core's default otherwise); 1 forces connection reuse. */
  poolSize?: number
}

export interface AppRoleTestApp extends TestApp {
  db: AppRoleDatabase
}

/** A test app on an app-role database: migrated by the owner, connected as the app role. */
export async function createAppRoleTestApp(
  options: AppRoleTestAppOptions,
): Promise<AppRoleTestApp> {
  const { migrationsDir, PrismaClient, poolSize, database, ...rest } = options
  const db = database ?? (await createAppRoleDatabase({ migrationsDir, label: options.label }))
  const app = await createTestApp({
    ...rest,
    database: db.app,
    PrismaClient,
    core: {
      ...options.core,
      ...(poolSize ? { database: { url: db.app.url, PrismaClient, poolSize } } : {}),
    },
  })
  const close = app.close.bind(app)
  return Object.assign(app, {
    db,
    async close() {
      await close()
      if (database === undefined) await db.drop()
    },
  })
}
