import { randomBytes } from 'node:crypto'
import { ensureAppRole } from '@acme/cli'
import pg from 'pg'
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
