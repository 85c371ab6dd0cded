import type { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { MigrateError } from './errors.js'

/**
 * Where migrations are applied or read: a URL (a connection of its own), an embedded PGlite, or
 * a query function over the caller's own connection (an app's PrismaClient), which can only
 * read the status: applying needs a session of its own for the lock and the transactions.
 */
export type MigrationTarget = { url: string } | { pglite: PGlite } | MigrationQueryTarget

export interface MigrationQueryTarget {
  /** Runs one statement without parameters and resolves to its rows. */
  query(sql: string): Promise<readonly SqlRow[]>
}

export type SqlRow = Record<string, unknown>

export interface SqlRunner {
  query(sql: string, params?: unknown[]): Promise<SqlRow[]>
  /** Runs a script of any number of statements, as `psql -f` would. */
  exec(script: string): Promise<void>
}

/** One database session: what applying and inspecting migrations needs, for both targets. */
export interface MigrationExecutor extends SqlRunner {
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlRunner) => Promise<T>): Promise<T>
  close(): Promise<void>
}

export interface OpenExecutorOptions {
  /** Hold the migration lock for the whole session, so only one run changes the schema at a time. */
  exclusive: boolean
  log?: (line: string) => void
}

/**
 * Prisma Migrate's advisory lock key: taking the same one makes `acme migrate apply` and
 * `prisma migrate deploy` wait for each other too.
 */
export const MIGRATION_LOCK_KEY = 72707369

export function openExecutor(
  target: MigrationTarget,
  options: OpenExecutorOptions,
): Promise<MigrationExecutor> {
  if ('url' in target) return openPostgresExecutor(target.url, options)
  if ('pglite' in target) return openPgliteExecutor(target.pglite, options)
  return openQueryExecutor(target, options)
}

/** The caller's connection, read through: nothing to lock, open or close. */
async function openQueryExecutor(
  target: MigrationQueryTarget,
  options: OpenExecutorOptions,
): Promise<MigrationExecutor> {
  const readOnly = () =>
    new MigrateError(
      'ACME_CLI_TARGET_READ_ONLY',
      'A query function can only read the migration status; applying migrations needs a ' +
        'connection of its own: pass { url } or { pglite }.',
    )
  if (options.exclusive) throw readOnly()
  return {
    async query(sql, params) {
      if (params !== undefined && params.length > 0) throw readOnly()
      return [...(await target.query(sql))]
    },
    async exec() {
      throw readOnly()
    },
    async transaction() {
      throw readOnly()
    },
    async close() {},
  }
}

async function openPostgresExecutor(
  url: string,
  options: OpenExecutorOptions,
): Promise<MigrationExecutor> {
  const { connectionString, schema } = splitPrismaSchemaParam(url)
  const client = new pg.Client({ connectionString })
  // A dropped connection is reported by the failing query; without a listener it would also
  // crash the process as an unhandled 'error' event.
  client.on('error', () => {})
  await client.connect()

  const runner: SqlRunner = {
    async query(sql, params) {
      const result = await client.query<SqlRow>(sql, params)
      return result.rows
    },
    async exec(script) {
      await client.query(script)
    },
  }

  try {
    if (schema !== null) {
      const quoted = `"${schema.replaceAll('"', '""')}"`
      // Prisma creates the URL's schema when migrating into it, and every unqualified name in
      // the migration scripts (and _prisma_migrations itself) resolves there.
      if (options.exclusive) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`)
      await client.query(`SET search_path TO ${quoted}`)
    }
    if (options.exclusive) {
      // Session-level lock on this one connection: held across the per-migration transactions,
      // released when the session ends even if the process dies.
      const [row] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [
        MIGRATION_LOCK_KEY,
      ])
      if (row?.locked !== true) {
        options.log?.('Another migration run holds the lock; waiting for it to finish.')
        await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
      }
    }
  } catch (error) {
    await client.end().catch(() => {})
    throw error
  }

  return {
    ...runner,
    async transaction(work) {
      await client.query('BEGIN')
      try {
        const result = await work(runner)
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        throw error
      }
    },
    async close() {
      await client.end()
    },
  }
}

/**
 * Prisma URLs choose the PostgreSQL schema with `?schema=`, which node-postgres does not know:
 * it is taken off the URL and applied as the session's search_path instead.
 */
export function splitPrismaSchemaParam(url: string): {
  connectionString: string
  schema: string | null
} {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { connectionString: url, schema: null }
  }
  const schema = parsed.searchParams.get('schema')
  if (schema === null || schema === '') return { connectionString: url, schema: null }
  parsed.searchParams.delete('schema')
  return { connectionString: parsed.toString(), schema }
}

/**
 * PGlite is a single session shared by the whole process, so an advisory lock would be granted
 * to every caller; runs on the same instance queue here instead.
 */
const pgliteQueues = new WeakMap<PGlite, Promise<void>>()

async function openPgliteExecutor(
  pglite: PGlite,
  options: OpenExecutorOptions,
): Promise<MigrationExecutor> {
  let release = () => {}
  if (options.exclusive) {
    const previous = pgliteQueues.get(pglite) ?? Promise.resolve()
    const turn = new Promise<void>((resolve) => {
      release = resolve
    })
    pgliteQueues.set(
      pglite,
      previous.then(() => turn),
    )
    await previous
  }

  const runnerOf = (session: Pick<PGlite, 'query' | 'exec'>): SqlRunner => ({
    async query(sql, params) {
      const result = await session.query<SqlRow>(sql, params)
      return result.rows
    },
    async exec(script) {
      await session.exec(script)
    },
  })

  return {
    ...runnerOf(pglite),
    // PGlite's own transaction keeps the application's queries on the same instance out of it.
    transaction: (work) => pglite.transaction((tx) => work(runnerOf(tx))),
    async close() {
      // The instance belongs to the caller (the app's embedded database): only give up our turn.
      release()
    },
  }
}
