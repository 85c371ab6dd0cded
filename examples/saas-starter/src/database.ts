import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { migrateApply } from '@acme/cli'
import { PGlite } from '@electric-sql/pglite'
import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaPGlite } from 'pglite-prisma-adapter'
import type { Env } from './env.js'
import { PrismaClient } from './generated/prisma/client.js'

export interface Database {
  prisma: PrismaClient
  mode: 'postgres' | 'embedded'
}

const migrationsDir = fileURLToPath(new URL('../prisma/migrations', import.meta.url))

/**
 * PostgreSQL when DATABASE_URL is set; otherwise an embedded PostgreSQL (PGlite) keeping its
 * data in PGLITE_DATA_DIR, so the starter runs with nothing installed but Node. Either way,
 * pending migrations are applied first (safe with several instances starting at once).
 */
export async function openDatabase(
  env: Env,
  log: (line: string) => void = () => {},
): Promise<Database> {
  if (env.DATABASE_URL) {
    await migrateApply({ migrationsDir, target: { url: env.DATABASE_URL }, log })
    const adapter = new PrismaPg({ connectionString: env.DATABASE_URL })
    return { prisma: new PrismaClient({ adapter }), mode: 'postgres' }
  }
  mkdirSync(env.PGLITE_DATA_DIR, { recursive: true })
  const pglite = await PGlite.create(env.PGLITE_DATA_DIR)
  await migrateApply({ migrationsDir, target: { pglite }, log })
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) })
  // Prisma's disconnect leaves PGlite's files open; close them so the folder is consistent.
  const disconnect = prisma.$disconnect.bind(prisma)
  prisma.$disconnect = async () => {
    await disconnect()
    await pglite.close()
  }
  return { prisma, mode: 'embedded' }
}
