import { PGlite } from '@electric-sql/pglite'
import { citext } from '@electric-sql/pglite/contrib/citext'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrateApply, migrateStatus } from '../src/migrate/index.js'
import { EXPECTED_MIGRATIONS, expectedMigrationNames } from './support/migrate-fixtures.js'

describe('migrations against an embedded PGlite database', () => {
  let pglite: PGlite

  beforeAll(async () => {
    // The embedded mode's instance; citext is one of the extensions the fixtures' SQL creates.
    pglite = await PGlite.create({ extensions: { citext } })
  })

  afterAll(async () => {
    await pglite?.close()
  })

  it('applies, records and reports migrations, serialising runs on the same instance', async () => {
    const names = await expectedMigrationNames()
    const target = { pglite }

    const [one, two] = await Promise.all([
      migrateApply({ migrationsDir: EXPECTED_MIGRATIONS, target }),
      migrateApply({ migrationsDir: EXPECTED_MIGRATIONS, target }),
    ])
    // Whichever run got the instance first applied everything; the other found it done.
    const [first, second] = one.applied.length > 0 ? [one, two] : [two, one]
    expect(first).toStrictEqual({ applied: names, alreadyApplied: [] })
    expect(second).toStrictEqual({ applied: [], alreadyApplied: names })

    expect(await migrateStatus({ migrationsDir: EXPECTED_MIGRATIONS, target })).toStrictEqual({
      applied: names,
      pending: [],
      changed: [],
      failed: [],
    })
    const recorded = await pglite.query<{ migration_name: string; applied_steps_count: number }>(
      'SELECT migration_name, applied_steps_count FROM _prisma_migrations ORDER BY migration_name',
    )
    expect(recorded.rows).toStrictEqual(
      names.map((name) => ({ migration_name: name, applied_steps_count: 1 })),
    )
    // The instance stays usable by the app afterwards: the executor does not close it.
    const invoices = await pglite.query('SELECT count(*)::int AS n FROM "Invoice"')
    expect(invoices.rows).toStrictEqual([{ n: 0 }])
  })
})

describe("the status read through the app's own connection", () => {
  let pglite: PGlite

  beforeAll(async () => {
    pglite = await PGlite.create({ extensions: { citext } })
  })

  afterAll(async () => {
    await pglite?.close()
  })

  it('reports pending, then applied, migrations through a query function', async () => {
    const names = await expectedMigrationNames()
    const reader = {
      query: async (sql: string) => (await pglite.query<Record<string, unknown>>(sql)).rows,
    }
    // No _prisma_migrations yet: every migration is pending, and reading created nothing.
    expect(await migrateStatus({ migrationsDir: EXPECTED_MIGRATIONS, target: reader })).toEqual({
      applied: [],
      pending: names,
      changed: [],
      failed: [],
    })
    const table = await pglite.query("SELECT to_regclass('_prisma_migrations') AS t")
    expect(table.rows).toEqual([{ t: null }])

    await migrateApply({ migrationsDir: EXPECTED_MIGRATIONS, target: { pglite } })
    expect(await migrateStatus({ migrationsDir: EXPECTED_MIGRATIONS, target: reader })).toEqual({
      applied: names,
      pending: [],
      changed: [],
      failed: [],
    })
  })

  it('refuses to apply through a query function', async () => {
    const reader = { query: async () => [] }
    await expect(
      migrateApply({ migrationsDir: EXPECTED_MIGRATIONS, target: reader }),
    ).rejects.toMatchObject({ code: 'ACME_CLI_TARGET_READ_ONLY' })
  })
})
