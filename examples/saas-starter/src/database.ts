import { mkdirSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { appRoleStatements, ensureAppRole, migrateApply } from '@acme/cli'
import { PGlite } from '@electric-sql/pglite'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaPGlite } from 'pglite-prisma-adapter'
import type { Env } from './env.js'
import { PrismaClient } from './generated/prisma/client.js'

export interface Database {
  prisma: PrismaClient
  mode: 'postgres' | 'embedded'
  /** How the app reaches the database as a role row-level security applies to. */
  role: 'app-url' | 'switched'
}

/** The app's migrations: applied below at startup, and compared with the database by core. */
export const migrationsDir = fileURLToPath(new URL('../prisma/migrations', import.meta.url))

/**
 * PostgreSQL when DATABASE_URL is set; otherwise an embedded PostgreSQL (PGlite) keeping its
 * data in PGLITE_DATA_DIR, so the starter runs with nothing installed but Node. Either way,
 * pending migrations are applied first (safe with several instances starting at once), as the
 * owner of the tables. The app itself then works as a role that row-level security applies to:
 * APP_DATABASE_URL's, or (development) APP_DATABASE_ROLE, created here and switched to.
 */
export async function openDatabase(
  env: Env,
  log: (line: string) => void = () => {},
): Promise<Database> {
  if (env.DATABASE_URL) {
    await migrateApply({ migrationsDir, target: { url: env.DATABASE_URL }, log })
    if (env.APP_DATABASE_URL) {
      const adapter = new PrismaPg({ connectionString: env.APP_DATABASE_URL })
      return { prisma: new PrismaClient({ adapter }), mode: 'postgres', role: 'app-url' }
    }
    await ensureAppRole({ url: env.DATABASE_URL, role: env.APP_DATABASE_ROLE })
    // Every pooled connection starts as the app role (a startup parameter, not a per-request SET).
    const adapter = new PrismaPg({
      connectionString: env.DATABASE_URL,
      options: `-c role=${env.APP_DATABASE_ROLE}`,
    })
    return { prisma: new PrismaClient({ adapter }), mode: 'postgres', role: 'switched' }
  }
  mkdirSync(env.PGLITE_DATA_DIR, { recursive: true })
  // Creating the embedded cluster is the one slow step of a first start: say so before it.
  log(
    readdirSync(env.PGLITE_DATA_DIR).length === 0
      ? `creating the embedded PostgreSQL in ${env.PGLITE_DATA_DIR} (first start only, a few seconds)`
      : `opening the embedded PostgreSQL in ${env.PGLITE_DATA_DIR}`,
  )
  const pglite = await PGlite.create(env.PGLITE_DATA_DIR)
  await migrateApply({ migrationsDir, target: { pglite }, log })
  // One embedded session: create the app role (idempotent) and work as it from here on.
  await pglite.transaction(async (tx) => {
    for (const statement of appRoleStatements({
      role: env.APP_DATABASE_ROLE,
      schema: 'public',
      withPassword: false,
    })) {
      await tx.exec(statement.sql)
    }
  })
  await pglite.exec(`SET ROLE ${env.APP_DATABASE_ROLE}`)
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) })
  // Prisma's disconnect leaves PGlite's files open; close them so the folder is consistent.
  const disconnect = prisma.$disconnect.bind(prisma)
  prisma.$disconnect = async () => {
    await disconnect()
    await pglite.close()
  }
  return { prisma, mode: 'embedded', role: 'switched' }
}
