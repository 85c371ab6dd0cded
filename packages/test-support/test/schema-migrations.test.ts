import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { createTestDatabase } from '../src/index.js'
import { schemaMigrations } from '../src/schema/index.js'

const fixture = fileURLToPath(new URL('./fixtures/package', import.meta.url))
const scratch = mkdtempSync(path.join(tmpdir(), 'acme-schema-migrations-'))
const packageDir = path.join(scratch, 'package')
const cacheDir = path.join(scratch, 'cache')
cpSync(fixture, packageDir, { recursive: true })

afterAll(() => rmSync(scratch, { recursive: true, force: true }))

async function query<Row>(url: string, sql: string): Promise<Row[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query(sql)).rows as Row[]
  } finally {
    await client.end()
  }
}

describe('test databases from the merged schema', () => {
  it('builds the app schema, the fragment, its raw SQL and its row-level security', async () => {
    const { migrationsDir, built } = await schemaMigrations({ packageDir, cacheDir })
    expect(built).toBe(true)

    const database = await createTestDatabase({ migrationsDir, label: 'schema_migrations' })
    try {
      const tables = await query<{ name: string; forced: boolean; comment: string | null }>(
        database.url,
        `SELECT relname AS name, relforcerowsecurity AS forced,
                obj_description(oid, 'pg_class') AS comment
           FROM pg_class WHERE relname IN ('tenants', 'notes') ORDER BY relname`,
      )
      expect(tables).toEqual([
        { name: 'notes', forced: true, comment: 'from notes.sql' },
        { name: 'tenants', forced: false, comment: null },
      ])
    } finally {
      await database.drop()
    }
  })

  it('reuses what an earlier run computed while the schema stays the same', async () => {
    const first = await schemaMigrations({ packageDir, cacheDir })
    const again = await schemaMigrations({ packageDir, cacheDir })
    expect(again).toEqual({ migrationsDir: first.migrationsDir, built: false })
  })

  it('follows a fragment that changed, with nothing to regenerate by hand', async () => {
    const before = await schemaMigrations({ packageDir, cacheDir })
    const fragment = path.join(packageDir, 'prisma/notes.prisma')
    writeFileSync(
      fragment,
      readFileSync(fragment, 'utf8').replace(
        '  body     String\n',
        '  body     String\n  pinned   Boolean @default(false)\n',
      ),
    )

    const after = await schemaMigrations({ packageDir, cacheDir })
    expect(after.built).toBe(true)
    expect(after.migrationsDir).not.toBe(before.migrationsDir)
    const database = await createTestDatabase({ migrationsDir: after.migrationsDir })
    try {
      const columns = await query<{ column_name: string }>(
        database.url,
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'notes' ORDER BY column_name`,
      )
      expect(columns.map((row) => row.column_name)).toEqual(['body', 'id', 'pinned', 'tenant_id'])
    } finally {
      await database.drop()
    }
  })
})
