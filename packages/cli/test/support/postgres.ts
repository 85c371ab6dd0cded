import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The server every development machine and CI runs (see docs: environment notes). */
const SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface TestDatabase {
  name: string
  url: string
  drop(): Promise<void>
}

/** A fresh, empty database with a random name, so test files can run in parallel. */
export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const name = `acme_cli_${label}_${randomBytes(5).toString('hex')}`
  await withServerClient((client) => client.query(`CREATE DATABASE "${name}"`))
  const url = new URL(SERVER_URL)
  url.pathname = `/${name}`
  return {
    name,
    url: url.toString(),
    drop: async () => {
      await withServerClient((client) =>
        client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
      )
    },
  }
}

async function withServerClient<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: SERVER_URL })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Runs `work` with a client connected to `url`, closing it afterwards. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>) {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}
