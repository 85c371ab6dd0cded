import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import {
  createTestApp,
  createTestDatabase,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
} from '../src/index.js'
import { PrismaClient } from './fixtures/generated/prisma/client.js'

const migrationsDir = fileURLToPath(new URL('./fixtures/prisma/migrations', import.meta.url))

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    const result = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    return result.rowCount === 1
  } finally {
    await client.end()
  }
}

describe('test harness', () => {
  it('gives each caller its own migrated database, and drops it', async () => {
    const [first, second] = await Promise.all([
      createTestDatabase({ migrationsDir, label: 'harness' }),
      createTestDatabase({ migrationsDir, label: 'harness' }),
    ])
    expect(first.name).not.toBe(second.name)
    const client = new pg.Client({ connectionString: first.url })
    await client.connect()
    await client.query("INSERT INTO notes (body) VALUES ('only in the first')")
    await client.end()
    const other = new pg.Client({ connectionString: second.url })
    await other.connect()
    const rows = await other.query('SELECT count(*)::int AS count FROM notes')
    await other.end()
    expect(rows.rows).toEqual([{ count: 0 }])

    await first.drop()
    await second.drop()
    expect(await databaseExists(first.name)).toBe(false)
  })

  it('builds an app on that database with its own Redis prefix, and cleans both up', async () => {
    const harness = await createTestApp({ label: 'harness', migrationsDir, PrismaClient })
    const { app, database, redisPrefix } = harness
    const prisma = app.prisma as unknown as PrismaClient
    await prisma.note.create({ data: { body: 'hello' } })
    expect(await prisma.note.count()).toBe(1)

    await app.inject({ method: 'GET', url: '/health/live' })
    const redis = new Redis(TEST_REDIS_URL)
    const written = await redis.keys(`${redisPrefix}*`)
    expect(written.length).toBeGreaterThan(0)

    await harness.close()
    expect(await redis.keys(`${redisPrefix}*`)).toEqual([])
    await redis.quit()
    expect(await databaseExists(database?.name ?? '')).toBe(false)
  })
})
