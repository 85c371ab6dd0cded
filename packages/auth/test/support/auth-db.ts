import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { createTestDatabase, schemaMigrationsDir, type TestDatabase } from '@acme/test-support'
import type { SqlDriverAdapterFactory } from '@prisma/client/runtime/client'
import { PrismaClient } from '../../src/generated/prisma/client.js'

export interface AuthTestDb {
  prisma: PrismaClient
  database: TestDatabase
  /** Disconnects the client and drops the database. */
  close(): Promise<void>
}

type PrismaPgConstructor = new (config: {
  connectionString: string
  max?: number
}) => SqlDriverAdapterFactory

/**
 * @prisma/adapter-pg is a dependency of @acme/core, not of @acme/auth, so it does not resolve from
 * here: load it from core's own dependencies (the version core builds its clients with).
 */
async function loadPrismaPg(): Promise<PrismaPgConstructor> {
  const fromHere = createRequire(import.meta.url)
  const fromCore = createRequire(fromHere.resolve('@acme/core/package.json'))
  const adapter: { PrismaPg: PrismaPgConstructor } = await import(
    pathToFileURL(fromCore.resolve('@prisma/adapter-pg')).href
  )
  return adapter.PrismaPg
}

/** A freshly migrated database of its own for one test file, with a client on it. */
export async function createAuthTestDb(label: string): Promise<AuthTestDb> {
  const database = await createTestDatabase({ migrationsDir: schemaMigrationsDir(), label })
  const PrismaPg = await loadPrismaPg()
  const prisma = new PrismaClient({
    adapter: new PrismaPg({ connectionString: database.url, max: 12 }),
  })
  return {
    prisma,
    database,
    async close() {
      await prisma.$disconnect()
      await database.drop()
    },
  }
}

let users = 0

export async function createUser(
  prisma: PrismaClient,
  status: 'active' | 'suspended' = 'active',
): Promise<string> {
  users += 1
  const user = await prisma.user.create({
    data: { email: `user${users}-${Date.now()}@example.test`, passwordHash: 'unused', status },
    select: { id: true },
  })
  return user.id
}
