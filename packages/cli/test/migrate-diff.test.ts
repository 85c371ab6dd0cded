import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MergeManifest } from '../src/manifest.js'
import { migrationSlug, POSTGRESQL_MIGRATION_LOCK } from '../src/migrate/folder.js'
import { MigrateError, migrateDiff, SNAPSHOT_FILE } from '../src/migrate/index.js'
import {
  diffAllSteps,
  EXPECTED_FROM_EMPTY,
  EXPECTED_MIGRATIONS,
  fixtureManifest,
  makeTempDir,
  readTree,
  schemaSteps,
  type TempDir,
} from './support/migrate-fixtures.js'

/** Set to regenerate the committed expectations (then review the diff before committing). */
const UPDATE = process.env.UPDATE_MIGRATE_FIXTURES === '1'

describe('migrateDiff on the fixture sequence', () => {
  let generated: TempDir
  let fromEmpty: TempDir

  beforeAll(async () => {
    generated = await makeTempDir()
    await diffAllSteps(generated.path)
    fromEmpty = await makeTempDir()
    const steps = await schemaSteps()
    const last = steps.at(-1)
    if (last === undefined) throw new Error('no fixture steps')
    await migrateDiff({
      schema: last.schema,
      migrationsDir: fromEmpty.path,
      name: 'from_empty',
      manifest: await fixtureManifest(),
      now: () => new Date(Date.UTC(2025, 0, 1)),
    })
    if (UPDATE) {
      await rm(path.dirname(EXPECTED_MIGRATIONS), { recursive: true, force: true })
      await mkdir(path.dirname(EXPECTED_MIGRATIONS), { recursive: true })
      await cp(generated.path, EXPECTED_MIGRATIONS, { recursive: true })
      await cp(fromEmpty.path, EXPECTED_FROM_EMPTY, { recursive: true })
    }
  })

  afterAll(async () => {
    await generated?.remove()
    await fromEmpty?.remove()
  })

  it('writes byte for byte the committed migrations, lock file and snapshot', async () => {
    expect(await readTree(generated.path)).toStrictEqual(await readTree(EXPECTED_MIGRATIONS))
  })

  it('writes byte for byte the committed single migration from an empty database', async () => {
    expect(await readTree(fromEmpty.path)).toStrictEqual(await readTree(EXPECTED_FROM_EMPTY))
  })

  it('names folders like Prisma: UTC timestamp from `now`, then the slugged name', async () => {
    const folders = (await readdir(generated.path, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort()
    expect(folders).toStrictEqual([
      '20250101000100_init',
      '20250101000200_add_organization',
      '20250101000300_profile_defaults',
      '20250101000400_index_display_name',
      '20250101000500_role_guest',
      '20250101000600_billing_invoices',
    ])
    expect(await readFile(path.join(generated.path, 'migration_lock.toml'), 'utf8')).toBe(
      POSTGRESQL_MIGRATION_LOCK,
    )
  })

  it("appends each fragment's raw SQL once, to the migration that creates its tables", async () => {
    const tree = await readTree(generated.path)
    const scripts = Object.entries(tree).filter(([file]) => file.endsWith('/migration.sql'))
    const holding = (needle: string) =>
      scripts.filter(([, sql]) => sql.includes(needle)).map(([file]) => file.split('/')[0])

    expect(holding('CREATE EXTENSION IF NOT EXISTS citext')).toStrictEqual(['20250101000100_init'])
    expect(holding('-- acme: raw SQL of fragment @acme/auth')).toStrictEqual([
      '20250101000100_init',
    ])
    expect(holding('CREATE POLICY invoice_owner')).toStrictEqual([
      '20250101000600_billing_invoices',
    ])
    // Appended after the engine's statements, since policies need the tables to exist.
    const billing = tree['20250101000600_billing_invoices/migration.sql'] ?? ''
    expect(billing.indexOf('CREATE POLICY')).toBeGreaterThan(
      billing.indexOf('CREATE TABLE "Invoice"'),
    )
  })

  it('writes nothing when the schema has not changed', async () => {
    const steps = await schemaSteps()
    const last = steps.at(-1)
    if (last === undefined) throw new Error('no fixture steps')
    const before = await readTree(generated.path)
    const result = await migrateDiff({
      schema: last.schema,
      migrationsDir: generated.path,
      name: 'nothing',
      manifest: await fixtureManifest(),
    })
    expect(result).toStrictEqual({ migrationDir: null, sql: '' })
    expect(await readTree(generated.path)).toStrictEqual(before)
  })
})

describe('migrateDiff edge cases', () => {
  let scratch: TempDir

  beforeAll(async () => {
    scratch = await makeTempDir()
  })

  afterAll(async () => {
    await scratch?.remove()
  })

  const schemaWith = (models: string) =>
    `datasource db {\n  provider = "postgresql"\n}\n\n${models}`

  it('refuses a folder with migrations but no snapshot, rather than recreating every table', async () => {
    const dir = path.join(scratch.path, 'no-snapshot')
    await mkdir(path.join(dir, '20240101000000_init'), { recursive: true })
    await writeFile(path.join(dir, '20240101000000_init', 'migration.sql'), 'SELECT 1;\n')
    const schema = path.join(scratch.path, 'no-snapshot.prisma')
    await writeFile(schema, schemaWith('model A {\n  id Int @id\n}\n'))

    const error = await migrateDiff({ schema, migrationsDir: dir, name: 'next' }).catch(
      (caught: unknown) => caught,
    )
    expect(error).toBeInstanceOf(MigrateError)
    expect(error).toMatchObject({ code: 'ACME_CLI_SNAPSHOT_MISSING' })
    expect(String(error)).toContain(SNAPSHOT_FILE)
  })

  it('reports schema errors from the engine with their Prisma code', async () => {
    const schema = path.join(scratch.path, 'invalid.prisma')
    await writeFile(schema, schemaWith('model A {\n  id Int @id\n  other Missing\n}\n'))
    const error = await migrateDiff({
      schema,
      migrationsDir: path.join(scratch.path, 'invalid'),
      name: 'x',
    }).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'ACME_CLI_SCHEMA_ENGINE' })
    expect(String(error)).toContain('P1012')
    expect(String(error)).toContain('Missing')
  })

  it('keeps an existing migration_lock.toml and skips the migrations folder inside the schema folder', async () => {
    const schemaDir = path.join(scratch.path, 'folder-schema')
    const migrationsDir = path.join(schemaDir, 'migrations')
    await mkdir(migrationsDir, { recursive: true })
    const customLock = '# kept as it is\nprovider = "postgresql"\n'
    await writeFile(path.join(migrationsDir, 'migration_lock.toml'), customLock)
    // A stray .prisma file in the migrations folder must not be read as part of the schema.
    await writeFile(path.join(migrationsDir, 'stray.prisma'), 'model A {\n  id Int @id\n}\n')
    await writeFile(path.join(schemaDir, 'main.prisma'), schemaWith(''))
    await mkdir(path.join(schemaDir, 'models'))
    await writeFile(path.join(schemaDir, 'models', 'a.prisma'), 'model A {\n  id Int @id\n}\n')

    const result = await migrateDiff({ schema: schemaDir, migrationsDir, name: 'First Step' })
    expect(path.basename(result.migrationDir ?? '')).toMatch(/^\d{14}_first_step$/)
    expect(result.sql).toBe(
      '-- CreateTable\nCREATE TABLE "A" (\n    "id" INTEGER NOT NULL,\n\n    CONSTRAINT "A_pkey" PRIMARY KEY ("id")\n);\n',
    )
    expect(await readFile(path.join(migrationsDir, 'migration_lock.toml'), 'utf8')).toBe(customLock)
  })

  const NOTE = [
    'model Note {',
    '  id       Int    @id',
    '  tenantId String @map("tenant_id") @db.Uuid',
    '',
    '  @@map("notes")',
    '}',
    '',
  ].join('\n')
  const TENANT_OWNED_NOTE = `/// @acme.tenantOwned\n${NOTE}`

  it('writes a migration holding only the policy when an existing model becomes tenant-owned', async () => {
    const schema = path.join(scratch.path, 'becomes-tenant-owned.prisma')
    const migrationsDir = path.join(scratch.path, 'becomes-tenant-owned')
    await writeFile(schema, schemaWith(NOTE))
    const first = await migrateDiff({ schema, migrationsDir, name: 'init' })
    expect(first.sql).toContain('CREATE TABLE "notes"')
    expect(first.sql).not.toContain('ROW LEVEL SECURITY')

    await writeFile(schema, schemaWith(TENANT_OWNED_NOTE))
    const manifest: MergeManifest = {
      version: 1,
      fragments: [
        { source: 'app', version: null, models: ['Note'], tenantOwned: ['Note'], sql: null },
      ],
    }
    const marked = await migrateDiff({
      schema,
      migrationsDir,
      name: 'isolate',
      manifest,
      now: () => new Date(Date.now() + 1000),
    })
    expect(marked.migrationDir).not.toBeNull()
    expect(marked.sql).toBe(
      [
        '-- acme: row-level security of tenant-owned model Note',
        'ALTER TABLE "notes" ENABLE ROW LEVEL SECURITY;',
        'ALTER TABLE "notes" FORCE ROW LEVEL SECURITY;',
        'CREATE POLICY "acme_tenant_isolation" ON "notes"',
        `  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)`,
        `  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);`,
        '',
      ].join('\n'),
    )
    // The snapshot keeps the marker, so the policy is never written twice.
    expect(await readFile(path.join(migrationsDir, SNAPSHOT_FILE), 'utf8')).toContain(
      '/// @acme.tenantOwned\nmodel Note {',
    )
    const again = await migrateDiff({ schema, migrationsDir, name: 'again', manifest })
    expect(again).toStrictEqual({ migrationDir: null, sql: '' })
  })

  it("appends a new tenant-owned table's policy after the engine's SQL and the fragments' raw SQL", async () => {
    const schema = path.join(scratch.path, 'new-tenant-owned.prisma')
    await writeFile(schema, schemaWith(TENANT_OWNED_NOTE))
    const result = await migrateDiff({
      schema,
      migrationsDir: path.join(scratch.path, 'new-tenant-owned'),
      name: 'init',
      manifest: {
        version: 1,
        fragments: [
          { source: 'app', version: null, models: [], tenantOwned: [], sql: null },
          {
            source: '@acme/notes',
            version: '1.0.0',
            models: ['Note'],
            tenantOwned: ['Note'],
            sql: 'CREATE INDEX notes_tenant ON "notes" ("tenant_id");\n',
          },
        ],
      },
    })
    const order = [
      'CREATE TABLE "notes"',
      '-- acme: raw SQL of fragment @acme/notes',
      '-- acme: row-level security of tenant-owned model Note',
    ].map((needle) => result.sql.indexOf(needle))
    expect(order.every((index) => index >= 0)).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
  })

  it('refuses a manifest whose tenant-owned model has no marker in the schema', async () => {
    const schema = path.join(scratch.path, 'stale-manifest.prisma')
    await writeFile(schema, schemaWith(NOTE))
    const error = await migrateDiff({
      schema,
      migrationsDir: path.join(scratch.path, 'stale-manifest'),
      name: 'init',
      manifest: {
        version: 1,
        fragments: [
          { source: 'app', version: null, models: ['Note'], tenantOwned: ['Note'], sql: null },
        ],
      },
    }).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'ACME_CLI_MANIFEST_STALE' })
  })

  it('slugs names the way prisma migrate dev does', () => {
    expect(migrationSlug('Add invoices!')).toBe('add_invoices')
    expect(migrationSlug('addUserEmail')).toBe('add_user_email')
    expect(migrationSlug('  café--menu  ')).toBe('cafe_menu')
  })
})
