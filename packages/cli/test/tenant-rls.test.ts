import { describe, expect, test } from 'vitest'
import type { MergeManifest } from '../src/manifest.js'
import { MigrateError } from '../src/migrate/errors.js'
import type { SchemaFile } from '../src/migrate/schema-files.js'
import {
  tablesNeedingRowLevelSecurity,
  tenantRowLevelSecuritySql,
} from '../src/migrate/tenant-rls.js'

const DATASOURCE = 'datasource db {\n  provider = "postgresql"\n}\n'

const schema = (...models: string[]): SchemaFile[] => [
  { path: 'schema.prisma', content: [DATASOURCE, ...models].join('\n') },
]

const NOTE = [
  '/// @acme.tenantOwned',
  'model Note {',
  '  id       String @id @default(uuid()) @db.Uuid',
  '  tenantId String @map("tenant_id") @db.Uuid // the owner',
  '  title    String',
  '',
  '  @@index([tenantId])',
  '  @@map("notes")',
  '}',
].join('\n')

const unmarked = (model: string) => model.replace('/// @acme.tenantOwned\n', '')

const manifestOf = (tenantOwned: string[], models = tenantOwned): MergeManifest => ({
  version: 1,
  fragments: [{ source: 'app', version: null, models, tenantOwned, sql: null }],
})

function thrown(work: () => unknown): MigrateError {
  try {
    work()
  } catch (error) {
    if (error instanceof MigrateError) return error
    throw error
  }
  throw new Error('expected a MigrateError')
}

describe('tenantRowLevelSecuritySql', () => {
  test('enables, forces and adds the policy for a new tenant-owned table (uuid column)', () => {
    expect(tenantRowLevelSecuritySql({ previous: null, current: schema(NOTE) })).toBe(
      [
        '',
        '-- acme: row-level security of tenant-owned model Note',
        'ALTER TABLE "notes" ENABLE ROW LEVEL SECURITY;',
        'ALTER TABLE "notes" FORCE ROW LEVEL SECURITY;',
        'CREATE POLICY "acme_tenant_isolation" ON "notes"',
        `  USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)`,
        `  WITH CHECK ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid);`,
        '',
      ].join('\n'),
    )
  })

  test('compares a text column without a cast, and uses the model and field names unmapped', () => {
    const doc =
      '/// @acme.tenantOwned\nmodel Doc {\n  id Int @id\n  tenantId String @db.VarChar(36)\n}'
    const sql = tenantRowLevelSecuritySql({ previous: schema(), current: schema(doc) })
    expect(sql).toContain('ALTER TABLE "Doc" FORCE ROW LEVEL SECURITY;')
    expect(sql).toContain(
      `  USING ("tenantId" = NULLIF(current_setting('app.tenant_id', true), ''))\n`,
    )
    expect(sql).not.toContain('::uuid')
  })

  test('qualifies the table with @@schema and escapes quotes in identifiers', () => {
    const odd = [
      '/// @acme.tenantOwned',
      'model Odd {',
      '  id Int @id',
      '  tenantId String @map("te\\"nant")',
      '  @@map("we\\"ird")',
      '  @@schema("app")',
      '}',
    ].join('\n')
    const sql = tenantRowLevelSecuritySql({ previous: null, current: schema(odd) })
    expect(sql).toContain('ALTER TABLE "app"."we""ird" ENABLE ROW LEVEL SECURITY;')
    expect(sql).toContain('CREATE POLICY "acme_tenant_isolation" ON "app"."we""ird"\n')
    expect(sql).toContain('USING ("te""nant" = NULLIF(')
  })

  test('covers a model that already existed and just became tenant-owned', () => {
    const tables = tablesNeedingRowLevelSecurity({
      previous: schema(unmarked(NOTE)),
      current: schema(NOTE),
      manifest: manifestOf(['Note']),
    })
    expect(tables).toEqual([
      { model: 'Note', schema: null, table: 'notes', column: 'tenant_id', uuid: true },
    ])
  })

  test('adds nothing for a table that already had its policy, even under a new model name', () => {
    expect(tenantRowLevelSecuritySql({ previous: schema(NOTE), current: schema(NOTE) })).toBe('')
    const renamed = NOTE.replace('model Note', 'model Memo')
    expect(tenantRowLevelSecuritySql({ previous: schema(NOTE), current: schema(renamed) })).toBe('')
  })

  test('covers a tenant-owned model whose table changes name (a new table)', () => {
    const moved = NOTE.replace('@@map("notes")', '@@map("notes_v2")')
    const tables = tablesNeedingRowLevelSecurity({ previous: schema(NOTE), current: schema(moved) })
    expect(tables.map((table) => table.table)).toEqual(['notes_v2'])
  })

  test('reads the previous datamodel from a multi-file snapshot with its comments', () => {
    const snapshot: SchemaFile[] = [
      {
        path: 'datamodel.snapshot',
        content: `// Written by acme\n\n// ---- file: a.prisma ----\n${DATASOURCE}\n// ---- file: notes.prisma ----\n${NOTE}\n`,
      },
    ]
    expect(tenantRowLevelSecuritySql({ previous: snapshot, current: schema(NOTE) })).toBe('')
  })

  test("a marker left at the end of one snapshot file is not read as the next file's", () => {
    const snapshot: SchemaFile[] = [
      {
        path: 'datamodel.snapshot',
        content: `// ---- file: a.prisma ----\n${DATASOURCE}\n/// @acme.tenantOwned\n\n// ---- file: notes.prisma ----\n${unmarked(NOTE)}\n`,
      },
    ]
    const tables = tablesNeedingRowLevelSecurity({ previous: snapshot, current: schema(NOTE) })
    expect(tables.map((table) => table.table)).toEqual(['notes'])
  })

  test('a model that stops being tenant-owned gets no SQL (removing isolation is done by hand)', () => {
    expect(
      tenantRowLevelSecuritySql({ previous: schema(NOTE), current: schema(unmarked(NOTE)) }),
    ).toBe('')
  })

  test('refuses a tenant-owned model without a usable tenantId, naming file and line', () => {
    const noTenant = '/// @acme.tenantOwned\nmodel Doc {\n  id Int @id\n}'
    const missing = thrown(() =>
      tenantRowLevelSecuritySql({ previous: null, current: schema(noTenant) }),
    )
    expect(missing.code).toBe('ACME_CLI_TENANT_ID_MISSING')
    expect(missing.message).toMatch(/^schema\.prisma:6: model Doc is marked/)

    const intTenant = '/// @acme.tenantOwned\nmodel Doc {\n  id Int @id\n  tenantId Int\n}'
    const wrongType = thrown(() =>
      tenantRowLevelSecuritySql({ previous: null, current: schema(intTenant) }),
    )
    expect(wrongType.message).toMatch(/^schema\.prisma:8: `tenantId` of tenant-owned model Doc/)
  })

  test('refuses a manifest whose tenant-owned model is not marked in the schema', () => {
    const error = thrown(() =>
      tenantRowLevelSecuritySql({
        previous: null,
        current: schema(unmarked(NOTE)),
        manifest: manifestOf(['Note']),
      }),
    )
    expect(error.code).toBe('ACME_CLI_MANIFEST_STALE')
    expect(error.message).toContain('Note (app)')
    expect(error.message).toContain('acme prisma merge')
  })
})
