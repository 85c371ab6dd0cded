import { migrateApply } from '@acme/cli'
import pg from 'pg'
import { TEST_DATABASE_URL, uniqueName } from './env.js'

export interface TestDatabase {
  name: string
  url: string
  drop(): Promise<void>
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/**
 * A database of its own for one test file, created from a migrations folder exactly as
 * `acme migrate apply` creates production databases; `drop()` removes it.
 */
export async function createTestDatabase(
  options: { migrationsDir?: string; label?: string } = {},
): Promise<TestDatabase> {
  const name = uniqueName(options.label ?? 'acme_test')
  await admin((client) => client.query(`CREATE DATABASE "${name}"`))
  const url = withDatabase(TEST_DATABASE_URL, name)
  if (options.migrationsDir) {
    await migrateApply({ migrationsDir: options.migrationsDir, target: { url } })
  }
  return {
    name,
    url,
    async drop() {
      await admin((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
    },
  }
}
