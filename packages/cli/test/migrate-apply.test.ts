import { cp, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { migrationChecksum } from '../src/migrate/checksum.js'
import { MigrateError, migrateApply, migrateStatus } from '../src/migrate/index.js'
import { describeSchema } from './support/catalog.js'
import {
  copyOfExpectedMigrations,
  EXPECTED_FROM_EMPTY,
  EXPECTED_MIGRATIONS,
  expectedMigrationNames,
  makeTempDir,
  type TempDir,
} from './support/migrate-fixtures.js'
import { createTestDatabase, type TestDatabase, withClient } from './support/postgres.js'

const databases: TestDatabase[] = []
const tempDirs: TempDir[] = []

async function freshDatabase(): Promise<TestDatabase> {
  const database = await createTestDatabase('migrate')
  databases.push(database)
  return database
}

async function scratchCopy(names?: string[]): Promise<TempDir> {
  const dir = await copyOfExpectedMigrations(names)
  tempDirs.push(dir)
  return dir
}

afterAll(async () => {
  await Promise.all(databases.map((database) => database.drop()))
  await Promise.all(tempDirs.map((dir) => dir.remove()))
})

async function rejection(promise: Promise<unknown>): Promise<MigrateError> {
  const outcome = await promise.then(
    () => null,
    (error: unknown) => error,
  )
  if (!(outcome instanceof MigrateError))
    throw new Error(`expected a MigrateError, got ${String(outcome)}`)
  return outcome
}

const tableExists = (url: string, table: string) =>
  withClient(url, async (client) => {
    const { rows } = await client.query('SELECT to_regclass($1) IS NOT NULL AS present', [
      `"${table}"`,
    ])
    return rows[0]?.present === true
  })

describe('migrateApply against PostgreSQL', () => {
  it('leaves the same schema as the single migration from empty to the final datamodel', async () => {
    const stepwise = await freshDatabase()
    const direct = await freshDatabase()
    const names = await expectedMigrationNames()

    const first = await migrateApply({
      migrationsDir: EXPECTED_MIGRATIONS,
      target: { url: stepwise.url },
    })
    expect(first).toStrictEqual({ applied: names, alreadyApplied: [] })
    await migrateApply({ migrationsDir: EXPECTED_FROM_EMPTY, target: { url: direct.url } })

    const stepwiseSchema = await withClient(stepwise.url, describeSchema)
    const directSchema = await withClient(direct.url, describeSchema)
    expect(stepwiseSchema).toStrictEqual(directSchema)
    // Guard against comparing two empty databases.
    expect(stepwiseSchema.policies).toHaveLength(1)
    expect(stepwiseSchema.extensions).toContainEqual({ extname: 'citext' })
    expect(stepwiseSchema.enums).toContainEqual({ typname: 'Role', labels: '{USER,ADMIN,GUEST}' })

    const again = await migrateApply({
      migrationsDir: EXPECTED_MIGRATIONS,
      target: { url: stepwise.url },
    })
    expect(again).toStrictEqual({ applied: [], alreadyApplied: names })
  })

  it('records each migration in _prisma_migrations as Prisma does', async () => {
    const database = await freshDatabase()
    await migrateApply({ migrationsDir: EXPECTED_MIGRATIONS, target: { url: database.url } })

    await withClient(database.url, async (client) => {
      const columns = await client.query(`
        SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
          FROM information_schema.columns
         WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`)
      expect(columns.rows).toStrictEqual([
        {
          column_name: 'id',
          data_type: 'character varying',
          character_maximum_length: 36,
          is_nullable: 'NO',
          column_default: null,
        },
        {
          column_name: 'checksum',
          data_type: 'character varying',
          character_maximum_length: 64,
          is_nullable: 'NO',
          column_default: null,
        },
        {
          column_name: 'finished_at',
          data_type: 'timestamp with time zone',
          character_maximum_length: null,
          is_nullable: 'YES',
          column_default: null,
        },
        {
          column_name: 'migration_name',
          data_type: 'character varying',
          character_maximum_length: 255,
          is_nullable: 'NO',
          column_default: null,
        },
        {
          column_name: 'logs',
          data_type: 'text',
          character_maximum_length: null,
          is_nullable: 'YES',
          column_default: null,
        },
        {
          column_name: 'rolled_back_at',
          data_type: 'timestamp with time zone',
          character_maximum_length: null,
          is_nullable: 'YES',
          column_default: null,
        },
        {
          column_name: 'started_at',
          data_type: 'timestamp with time zone',
          character_maximum_length: null,
          is_nullable: 'NO',
          column_default: 'now()',
        },
        {
          column_name: 'applied_steps_count',
          data_type: 'integer',
          character_maximum_length: null,
          is_nullable: 'NO',
          column_default: '0',
        },
      ])

      const { rows } = await client.query(`
        SELECT id, checksum, migration_name, logs, applied_steps_count,
               finished_at IS NOT NULL AND finished_at >= started_at AS finished,
               rolled_back_at
          FROM _prisma_migrations ORDER BY migration_name`)
      const names = await expectedMigrationNames()
      expect(rows.map((row) => row.migration_name)).toStrictEqual(names)
      for (const row of rows) {
        const script = await readFile(
          path.join(EXPECTED_MIGRATIONS, String(row.migration_name), 'migration.sql'),
          'utf8',
        )
        expect(row).toStrictEqual({
          id: expect.stringMatching(
            /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
          ),
          checksum: migrationChecksum(script),
          migration_name: row.migration_name,
          logs: null,
          applied_steps_count: 1,
          finished: true,
          rolled_back_at: null,
        })
      }
    })
  })

  it('refuses to run when an applied migration file was edited, naming it', async () => {
    const database = await freshDatabase()
    const names = await expectedMigrationNames()
    const [first, second, third] = names
    if (first === undefined || second === undefined || third === undefined)
      throw new Error('fixtures')
    const dir = await scratchCopy([first, second])
    await migrateApply({ migrationsDir: dir.path, target: { url: database.url } })

    // Line endings alone do not count as a change, as in Prisma.
    const firstScript = path.join(dir.path, first, 'migration.sql')
    const original = await readFile(firstScript, 'utf8')
    await writeFile(firstScript, original.replaceAll('\n', '\r\n'))
    const thirdDir = await scratchCopy([third])
    await cp(path.join(thirdDir.path, third), path.join(dir.path, third), { recursive: true })
    await writeFile(path.join(dir.path, third, 'migration.sql'), 'SELECT 1;\n')
    expect(
      await migrateApply({ migrationsDir: dir.path, target: { url: database.url } }),
    ).toStrictEqual({
      applied: [third],
      alreadyApplied: [first, second],
    })

    await writeFile(firstScript, `${original}\n-- edited after it was applied\n`)
    const fourth = '20300101000000_after_the_edit'
    await mkdir(path.join(dir.path, fourth))
    await writeFile(
      path.join(dir.path, fourth, 'migration.sql'),
      'CREATE TABLE "NeverApplied" (id int);\n',
    )

    const error = await rejection(
      migrateApply({ migrationsDir: dir.path, target: { url: database.url } }),
    )
    expect(error.code).toBe('ACME_CLI_MIGRATION_CHANGED')
    expect(error.migrations).toStrictEqual([first])
    expect(error.message).toContain(first)
    expect(await tableExists(database.url, 'NeverApplied')).toBe(false)

    const status = await migrateStatus({ migrationsDir: dir.path, target: { url: database.url } })
    expect(status).toStrictEqual({
      applied: [second, third],
      pending: [fourth],
      changed: [first],
      failed: [],
    })
  })

  it('refuses to run while a failed migration is recorded, as Prisma does', async () => {
    const database = await freshDatabase()
    const names = await expectedMigrationNames()
    const [first, second] = names
    if (first === undefined || second === undefined) throw new Error('fixtures')
    const dir = await scratchCopy([first, second])
    await migrateApply({ migrationsDir: dir.path, target: { url: database.url } })
    // What a `prisma migrate deploy` that failed half way leaves behind.
    await withClient(database.url, (client) =>
      client.query(
        `INSERT INTO _prisma_migrations (id, checksum, migration_name, logs)
         VALUES (gen_random_uuid()::text, 'x', '20300101000000_half_done', 'boom')`,
      ),
    )
    const later = await scratchCopy()

    const error = await rejection(
      migrateApply({ migrationsDir: later.path, target: { url: database.url } }),
    )
    expect(error.code).toBe('ACME_CLI_MIGRATION_FAILED')
    expect(error.migrations).toStrictEqual(['20300101000000_half_done'])
    expect(error.message).toContain('rolled_back_at')
    expect(await tableExists(database.url, 'Invoice')).toBe(false)
  })

  it('rolls a failing migration back entirely and records nothing for it', async () => {
    const database = await freshDatabase()
    const [first] = await expectedMigrationNames()
    if (first === undefined) throw new Error('fixtures')
    const dir = await scratchCopy([first])
    const broken = '20300101000000_broken'
    await mkdir(path.join(dir.path, broken))
    await writeFile(
      path.join(dir.path, broken, 'migration.sql'),
      'CREATE TABLE "HalfWay" (id int);\nINSERT INTO "DoesNotExist" VALUES (1);\n',
    )

    const error = await rejection(
      migrateApply({ migrationsDir: dir.path, target: { url: database.url } }),
    )
    expect(error.code).toBe('ACME_CLI_MIGRATION_SQL_FAILED')
    expect(error.migrations).toStrictEqual([broken])
    expect(error.message).toContain(broken)
    expect(error.message).toContain('relation "DoesNotExist" does not exist')
    expect(await tableExists(database.url, 'HalfWay')).toBe(false)
    expect(await tableExists(database.url, 'User')).toBe(true)
    const rows = await withClient(
      database.url,
      async (client) =>
        (await client.query('SELECT migration_name, finished_at FROM _prisma_migrations')).rows,
    )
    expect(rows.map((row) => row.migration_name)).toStrictEqual([first])

    // Never recorded, so fixing the file in place is enough.
    await writeFile(
      path.join(dir.path, broken, 'migration.sql'),
      'CREATE TABLE "HalfWay" (id int);\n',
    )
    expect(
      await migrateApply({ migrationsDir: dir.path, target: { url: database.url } }),
    ).toStrictEqual({
      applied: [broken],
      alreadyApplied: [first],
    })
  })

  it('applies each migration exactly once when two runs race', async () => {
    const database = await freshDatabase()
    const names = await expectedMigrationNames()
    const lines: string[] = []
    const run = () =>
      migrateApply({
        migrationsDir: EXPECTED_MIGRATIONS,
        target: { url: database.url },
        log: (line) => lines.push(line),
      })

    const [one, two] = await Promise.all([run(), run()])
    expect([...one.applied, ...two.applied].sort()).toStrictEqual(names)
    expect([one.applied.length, two.applied.length].sort()).toStrictEqual([0, names.length])

    const counts = await withClient(
      database.url,
      async (client) =>
        (
          await client.query(
            'SELECT migration_name, count(*)::int AS n FROM _prisma_migrations GROUP BY 1 ORDER BY 1',
          )
        ).rows,
    )
    expect(counts).toStrictEqual(names.map((name) => ({ migration_name: name, n: 1 })))
  })
})

describe('Prisma-style database URLs', () => {
  it('migrates into the schema named by ?schema=, as Prisma does', async () => {
    const database = await freshDatabase()
    const url = `${database.url}?schema=tenant_one`
    const names = await expectedMigrationNames()
    await migrateApply({ migrationsDir: EXPECTED_MIGRATIONS, target: { url } })

    const tables = await withClient(
      database.url,
      async (client) =>
        (
          await client.query(
            `SELECT table_schema, table_name FROM information_schema.tables
          WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
          )
        ).rows,
    )
    expect(tables).toStrictEqual(
      ['Invoice', 'Organization', 'User', '_prisma_migrations'].map((table_name) => ({
        table_schema: 'tenant_one',
        table_name,
      })),
    )
    expect(
      await migrateStatus({ migrationsDir: EXPECTED_MIGRATIONS, target: { url } }),
    ).toMatchObject({
      applied: names,
      pending: [],
    })
  })
})

describe('migrateStatus', () => {
  it('reads a database that was never migrated without creating anything', async () => {
    const database = await freshDatabase()
    const names = await expectedMigrationNames()
    const status = await migrateStatus({
      migrationsDir: EXPECTED_MIGRATIONS,
      target: { url: database.url },
    })
    expect(status).toStrictEqual({ applied: [], pending: names, changed: [], failed: [] })
    expect(await tableExists(database.url, '_prisma_migrations')).toBe(false)
  })

  it('handles an empty or missing migrations folder', async () => {
    const database = await freshDatabase()
    const empty = await makeTempDir()
    tempDirs.push(empty)
    expect(
      await migrateApply({
        migrationsDir: path.join(empty.path, 'missing'),
        target: { url: database.url },
      }),
    ).toStrictEqual({ applied: [], alreadyApplied: [] })
  })
})
