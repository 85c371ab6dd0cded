import { createTestDatabase, type TestDatabase, uniqueName } from '@acme/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type DoctorFinding,
  type DoctorOptions,
  diagnoseTenancy,
  formatFindings,
  type TenantTable,
} from '../src/services/doctor.js'
import {
  connectAs,
  isolatedTable,
  isolationPolicy,
  membershipsTable,
  onCluster,
  type RoleConnection,
} from './support/doctor-database.js'

/** The findings without their prose, which tests check separately. */
const codes = (findings: readonly DoctorFinding[]) =>
  findings.map(({ code, table, model }) => ({ code, table, model }))

const appRole = uniqueName('doctor_app')
const bypassRole = uniqueName('doctor_bypass')
const ownerRole = uniqueName('doctor_owner')
const roles = [appRole, bypassRole, ownerRole]

/*
 * Each scenario lives in a schema of its own in one database: `mixed` has one table of each
 * defect, `owned` tables the app role owns, and `public` a clean setup.
 */
const mixedTenantTables: TenantTable[] = [
  { model: 'Invoice', table: 'invoices', column: 'tenant_id' },
  { model: 'Project', table: 'projects', column: 'tenant_id' },
  { model: 'Note', table: 'notes', column: 'tenant_id' },
  { model: 'Comment', table: 'comments', column: 'tenant_id' },
  { model: 'Attachment', table: 'attachments', column: 'tenant_id' },
]
const mixed: Omit<DoctorOptions, 'query'> = {
  schema: 'mixed',
  tenantTables: mixedTenantTables,
  policyTables: ['memberships'],
}
const mixedTableFindings = [
  { code: 'RLS_NOT_FORCED', table: 'projects', model: 'Project' },
  { code: 'POLICY_MISSING', table: 'notes', model: 'Note' },
  { code: 'RLS_NOT_ENABLED', table: 'comments', model: 'Comment' },
  { code: 'RLS_NOT_FORCED', table: 'comments', model: 'Comment' },
  { code: 'TABLE_MISSING', table: 'attachments', model: 'Attachment' },
  { code: 'TENANT_COLUMN_UNSCOPED', table: 'audit_trail', model: undefined },
]

const owned: Omit<DoctorOptions, 'query'> = {
  schema: 'owned',
  tenantTables: [
    { model: 'Invoice', table: 'invoices', column: 'tenant_id' },
    { model: 'Project', table: 'projects', column: 'tenant_id' },
    { model: 'SharedNote', table: 'shared_notes', column: 'tenant_id' },
  ],
  policyTables: ['memberships'],
}

const clean: Omit<DoctorOptions, 'query'> = {
  tenantTables: [{ model: 'Invoice', table: 'invoices', column: 'tenant_id' }],
  policyTables: ['memberships'],
}

const FIXTURE = [
  'CREATE SCHEMA mixed',
  ...isolatedTable('mixed.invoices'),
  // Enabled, with its policy, but not forced.
  'CREATE TABLE mixed.projects (id uuid PRIMARY KEY, tenant_id uuid NOT NULL)',
  'ALTER TABLE mixed.projects ENABLE ROW LEVEL SECURITY',
  isolationPolicy('mixed.projects'),
  // Enabled and forced, without a policy.
  'CREATE TABLE mixed.notes (id uuid PRIMARY KEY, tenant_id uuid NOT NULL)',
  'ALTER TABLE mixed.notes ENABLE ROW LEVEL SECURITY',
  'ALTER TABLE mixed.notes FORCE ROW LEVEL SECURITY',
  // A policy that never applies: RLS is off.
  'CREATE TABLE mixed.comments (id uuid PRIMARY KEY, tenant_id uuid NOT NULL)',
  isolationPolicy('mixed.comments'),
  // Tenant data that no model or policy table accounts for.
  'CREATE TABLE mixed.audit_trail (id bigint PRIMARY KEY, tenant_id uuid, action text)',
  // Not tenant data: the tenants themselves, and a column of another name.
  'CREATE TABLE mixed.tenants (id uuid PRIMARY KEY, name text NOT NULL)',
  'CREATE TABLE mixed.legacy_orders (id uuid PRIMARY KEY, org_id uuid NOT NULL)',
  ...membershipsTable('mixed.memberships'),

  'CREATE SCHEMA owned',
  ...isolatedTable('owned.invoices'),
  ...isolatedTable('owned.projects'),
  ...isolatedTable('owned.shared_notes'),
  ...membershipsTable('owned.memberships'),
  `ALTER TABLE owned.invoices OWNER TO "${appRole}"`,
  `ALTER TABLE owned.projects OWNER TO "${ownerRole}"`,
  `ALTER TABLE owned.memberships OWNER TO "${appRole}"`,
  // Not forced: its owner reads through the policy.
  `ALTER TABLE owned.shared_notes OWNER TO "${appRole}"`,
  'ALTER TABLE owned.shared_notes NO FORCE ROW LEVEL SECURITY',

  ...isolatedTable('public.invoices', ', amount integer NOT NULL DEFAULT 0'),
  ...membershipsTable('public.memberships'),
  'CREATE TABLE public.users (id uuid PRIMARY KEY, email text NOT NULL)',

  ...['mixed', 'owned', 'public'].flatMap((schema) =>
    [appRole, bypassRole].flatMap((role) => [
      `GRANT USAGE ON SCHEMA ${schema} TO "${role}"`,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO "${role}"`,
    ]),
  ),
]

describe('diagnoseTenancy', () => {
  let database: TestDatabase
  let admin: RoleConnection
  let app: RoleConnection
  let bypass: RoleConnection

  beforeAll(async () => {
    await onCluster([
      `CREATE ROLE "${appRole}" LOGIN`,
      `CREATE ROLE "${bypassRole}" LOGIN BYPASSRLS`,
      `CREATE ROLE "${ownerRole}" NOLOGIN`,
      `GRANT "${ownerRole}" TO "${appRole}"`,
    ])
    database = await createTestDatabase({ label: 'doctor' })
    admin = await connectAs(database.url, 'postgres')
    for (const statement of FIXTURE) await admin.client.query(statement)
    app = await connectAs(database.url, appRole)
    bypass = await connectAs(database.url, bypassRole)
  })

  afterAll(async () => {
    await app?.close()
    await bypass?.close()
    if (admin) {
      for (const role of roles) await admin.client.query(`DROP OWNED BY "${role}" CASCADE`)
      await admin.close()
    }
    await database?.drop()
    await onCluster(roles.map((role) => `DROP ROLE IF EXISTS "${role}"`))
  })

  it('finds nothing in a clean setup, in the default schema', async () => {
    expect(await diagnoseTenancy({ ...clean, query: app.query })).toEqual([])
  })

  it('reports each defective table, once per defect, and nothing for sound ones', async () => {
    const findings = await diagnoseTenancy({ ...mixed, query: app.query })
    expect(codes(findings)).toEqual(mixedTableFindings)
  })

  it('says in each finding what to run', async () => {
    const findings = await diagnoseTenancy({ ...mixed, query: app.query })
    const message = (code: string, table: string) =>
      findings.find((finding) => finding.code === code && finding.table === table)?.message
    expect(message('RLS_NOT_FORCED', 'projects')).toContain(
      'ALTER TABLE "mixed"."projects" FORCE ROW LEVEL SECURITY',
    )
    expect(message('RLS_NOT_ENABLED', 'comments')).toContain(
      'ALTER TABLE "mixed"."comments" ENABLE ROW LEVEL SECURITY',
    )
    expect(message('POLICY_MISSING', 'notes')).toContain(
      `CREATE POLICY acme_tenant_isolation ON "mixed"."notes" USING ("tenant_id" = NULLIF(current_setting('app.tenant_id', true), '')::uuid)`,
    )
    expect(message('TABLE_MISSING', 'attachments')).toContain('acme migrate apply')
    expect(message('TENANT_COLUMN_UNSCOPED', 'audit_trail')).toContain('nothing scopes it')
  })

  it('refuses a superuser, on top of the table findings', async () => {
    const findings = await diagnoseTenancy({ ...mixed, query: admin.query })
    // Ownership goes unreported: a superuser is a member of every role, so it adds only noise.
    expect(codes(findings)).toEqual([
      { code: 'ROLE_IS_SUPERUSER', table: undefined, model: undefined },
      ...mixedTableFindings,
    ])
    expect(findings[0]?.message).toContain('`acme db app-role`')
  })

  it('refuses a role with BYPASSRLS', async () => {
    const findings = await diagnoseTenancy({ ...clean, query: bypass.query })
    expect(codes(findings)).toEqual([
      { code: 'ROLE_BYPASSES_RLS', table: undefined, model: undefined },
    ])
    expect(findings[0]?.message).toContain(`ALTER ROLE "${bypassRole}" NOBYPASSRLS`)
  })

  it('refuses a role that owns a tenant table, directly or through membership of its owner', async () => {
    const findings = await diagnoseTenancy({ ...owned, query: app.query })
    expect(codes(findings)).toEqual([
      { code: 'ROLE_OWNS_TENANT_TABLE', table: 'invoices', model: 'Invoice' },
      { code: 'ROLE_OWNS_TENANT_TABLE', table: 'projects', model: 'Project' },
      { code: 'ROLE_OWNS_TENANT_TABLE', table: 'shared_notes', model: 'SharedNote' },
      { code: 'RLS_NOT_FORCED', table: 'shared_notes', model: 'SharedNote' },
      { code: 'ROLE_OWNS_TENANT_TABLE', table: 'memberships', model: undefined },
    ])
    expect(findings[0]?.message).toContain(`Role "${appRole}" owns "owned"."invoices"`)
  })

  it('flags what really leaks: the owner of a table without FORCE reads every tenant', async () => {
    const tenants = ['0b4c1f9e-55a1-4c1e-9c55-8f6a3e0c0001', '0b4c1f9e-55a1-4c1e-9c55-8f6a3e0c0002']
    for (const table of ['owned.invoices', 'owned.shared_notes']) {
      for (const tenant of tenants) {
        await admin.client.query(`INSERT INTO ${table} (tenant_id) VALUES ($1)`, [tenant])
      }
    }
    await app.client.query('BEGIN')
    try {
      await app.client.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenants[0]])
      const forced = await app.client.query('SELECT tenant_id FROM owned.invoices')
      const notForced = await app.client.query('SELECT tenant_id FROM owned.shared_notes')
      expect(forced.rows).toEqual([{ tenant_id: tenants[0] }])
      expect(notForced.rows).toHaveLength(2)
    } finally {
      await app.client.query('ROLLBACK')
    }
    const findings = await diagnoseTenancy({ ...owned, query: app.query })
    expect(codes(findings.filter((finding) => finding.table === 'shared_notes'))).toEqual([
      { code: 'ROLE_OWNS_TENANT_TABLE', table: 'shared_notes', model: 'SharedNote' },
      { code: 'RLS_NOT_FORCED', table: 'shared_notes', model: 'SharedNote' },
    ])
  })

  it('skips the role checks when told to, and only those', async () => {
    expect(await diagnoseTenancy({ ...clean, checkRole: false, query: admin.query })).toEqual([])
    const ownedFindings = await diagnoseTenancy({ ...owned, checkRole: false, query: app.query })
    expect(codes(ownedFindings)).toEqual([
      { code: 'RLS_NOT_FORCED', table: 'shared_notes', model: 'SharedNote' },
    ])
    const defects = await diagnoseTenancy({ ...mixed, checkRole: false, query: admin.query })
    expect(codes(defects)).toEqual(mixedTableFindings)
  })

  it('reads tenant data by the configured tenant column', async () => {
    const findings = await diagnoseTenancy({
      schema: 'mixed',
      tenantTables: [],
      tenantColumn: 'org_id',
      query: app.query,
    })
    expect(codes(findings)).toEqual([
      { code: 'TENANT_COLUMN_UNSCOPED', table: 'legacy_orders', model: undefined },
    ])
  })

  it('asks the catalogs in three parameterised queries', async () => {
    const statements: Array<{ sql: string; params: readonly unknown[] }> = []
    await diagnoseTenancy({
      ...mixed,
      query: (sql, params) => {
        statements.push({ sql, params })
        return app.query(sql, params)
      },
    })
    expect(statements).toHaveLength(3)
    for (const { sql } of statements) {
      expect(sql).not.toContain('invoices')
      expect(sql).not.toContain('mixed')
    }
  })
})

describe('formatFindings', () => {
  it('writes one line per finding: code, table and model, then the message', () => {
    const text = formatFindings([
      { code: 'ROLE_IS_SUPERUSER', message: 'The app connects as "postgres".' },
      {
        code: 'RLS_NOT_FORCED',
        table: 'projects',
        model: 'Project',
        message: 'Not forced:\nrun ALTER TABLE.',
      },
      { code: 'TENANT_COLUMN_UNSCOPED', table: 'audit_trail', message: 'Nothing scopes it.' },
    ])
    expect(text.split('\n')).toEqual([
      'ROLE_IS_SUPERUSER: The app connects as "postgres".',
      'RLS_NOT_FORCED projects (Project): Not forced: run ALTER TABLE.',
      'TENANT_COLUMN_UNSCOPED audit_trail: Nothing scopes it.',
    ])
  })

  it('writes nothing when there is nothing to report', () => {
    expect(formatFindings([])).toBe('')
  })
})
