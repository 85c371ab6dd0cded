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
