import { RLS_SETTINGS } from '@acme/core'
export type DoctorFindingCode =
  | 'ROLE_IS_SUPERUSER'
  | 'ROLE_BYPASSES_RLS'
  | 'ROLE_OWNS_TENANT_TABLE'
  | 'TABLE_MISSING'
  | 'RLS_NOT_ENABLED'
  | 'RLS_NOT_FORCED'
  | 'POLICY_MISSING'
  | 'TENANT_COLUMN_UNSCOPED'

export interface DoctorFinding {
  code: DoctorFindingCode
  table?: string
  model?: string
  message: string
}

export interface TenantTable {
  model: string
  table: string
  column: string
}

export interface DoctorOptions {
  /** Runs one parameterised catalog query as the runtime role; e.g. (sql, params) => prisma.$queryRawUnsafe(sql, ...params). */
  query: <Row>(sql: string, params: readonly unknown[]) => Promise<Row[]>
  /** Tables the app scopes (tenant-owned models). */
  tenantTables: readonly TenantTable[]
  /** Tables that carry a tenant column but are scoped by their own policies (e.g. memberships). They must still have RLS enabled+forced and a policy, but need not be tenant-owned models. */
  policyTables?: readonly string[]
  /** Column name that marks tenant data; default 'tenant_id'. */
  tenantColumn?: string
  /** Schema; default current_schema(). */
  schema?: string
  /** Checks on the role are skipped when false (single-user dev setups that knowingly run RLS off): default true. */
  checkRole?: boolean
}

const APP_ROLE_ADVICE = 'connect as a role created by `acme db app-role`'

interface RoleRow {
  role: string
  superuser: boolean
  bypass_rls: boolean
}

interface TableRow {
  schema: string
  table: string
  exists: boolean
  rls_enabled: boolean
  rls_forced: boolean
  has_policy: boolean
  owned_by_role: boolean
}

interface UnscopedRow {
  schema: string
  table: string
}

/*
 * Every query reads the catalogs (readable by any role) through pg_namespace, so a same-named
 * table in another schema on the search_path cannot satisfy a check. Outputs are cast to text
 * and boolean: drivers disagree on `name` and `bigint`, booleans they all read alike. Table
 * lists travel as one JSON parameter rather than an array, which every driver binds the same way.
 */

const ROLE_SQL = `
SELECT current_user::text AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypass_rls
FROM pg_catalog.pg_roles r
WHERE r.rolname = current_user`

const TABLES_SQL = `
WITH target AS (SELECT coalesce($2::text, current_schema()::text) AS schema)
SELECT target.schema,
       wanted.name AS "table",
       c.oid IS NOT NULL AS "exists",
       coalesce(c.relrowsecurity, false) AS rls_enabled,
       coalesce(c.relforcerowsecurity, false) AS rls_forced,
       EXISTS (
         SELECT 1 FROM pg_catalog.pg_policies p
         WHERE p.schemaname = target.schema AND p.tablename = wanted.name
       ) AS has_policy,
       coalesce(pg_catalog.pg_has_role(current_user, c.relowner, 'MEMBER'), false) AS owned_by_role
FROM target
CROSS JOIN jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS wanted(name, ordinal)
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = target.schema
LEFT JOIN pg_catalog.pg_class c
  ON c.relnamespace = n.oid AND c.relname = wanted.name AND c.relkind IN ('r', 'p')
ORDER BY wanted.ordinal`

const UNSCOPED_SQL = `
SELECT n.nspname::text AS schema, c.relname::text AS "table"
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = coalesce($1::text, current_schema()::text)
  AND c.relkind IN ('r', 'p')
  AND a.attname = $2
  AND a.attnum > 0
  AND NOT a.attisdropped
  AND NOT c.relname = ANY (SELECT jsonb_array_elements_text($3::jsonb))
ORDER BY c.relname`

/**
 * Checks that PostgreSQL isolates tenants on its own, whatever the app does: the runtime role
 * is subject to row-level security and cannot switch it off, every scoped table forces RLS and
 * has a policy, and no table holds tenant data that nothing scopes. Returns no findings when
 * the database is sound.
 */
export async function diagnoseTenancy(options: DoctorOptions): Promise<DoctorFinding[]> {
  const tenantColumn = options.tenantColumn ?? 'tenant_id'
  const schema = options.schema ?? null
  const checkRole = options.checkRole ?? true
  const scoped = scopedTables(options.tenantTables, options.policyTables ?? [], tenantColumn)
  const names = JSON.stringify(scoped.map((table) => table.table))

  const [roles, tables, unscoped] = await Promise.all([
    checkRole ? options.query<RoleRow>(ROLE_SQL, []) : Promise.resolve([]),
    options.query<TableRow>(TABLES_SQL, [names, schema]),
    options.query<UnscopedRow>(UNSCOPED_SQL, [schema, tenantColumn, names]),
  ])

  const findings: DoctorFinding[] = []
  const role = roles[0]
  if (role?.superuser) findings.push(superuserFinding(role.role))
  else if (role?.bypass_rls) findings.push(bypassFinding(role.role))
  // A superuser is a member of every role: owning is then implied and adds only noise.
  const roleToCheckForOwnership = role && !role.superuser ? role.role : null

  scoped.forEach((target, index) => {
    const row = tables[index]
    if (!row || row.table !== target.table) {
      throw new Error(`the tenancy doctor's catalog query gave no row for ${target.table}`)
    }
    findings.push(...tableFindings(target, row, roleToCheckForOwnership))
  })

  for (const { schema: tableSchema, table } of unscoped) {
    findings.push({
      code: 'TENANT_COLUMN_UNSCOPED',
      table,
      message:
        `${qualified(tableSchema, table)} has a ${quoteIdentifier(tenantColumn)} column but nothing scopes it: ` +
        'neither a tenant-owned model nor a policy table, so no policy isolates its rows. ' +
        'Make its model tenant-owned, or list it in policyTables with RLS forced and a policy of its own.',
    })
  }
  return findings
}

interface ScopedTable {
  table: string
  model?: string
  column: string
}

/** Tenant tables first, then policy tables not already among them, each once. */
function scopedTables(
  tenantTables: readonly TenantTable[],
  policyTables: readonly string[],
  tenantColumn: string,
): ScopedTable[] {
  const seen = new Set<string>()
  const scoped: ScopedTable[] = []
  for (const { table, model, column } of tenantTables) {
    if (seen.has(table)) continue
    seen.add(table)
    scoped.push({ table, model, column })
  }
  for (const table of policyTables) {
    if (seen.has(table)) continue
    seen.add(table)
    scoped.push({ table, column: tenantColumn })
  }
  return scoped
}

function tableFindings(
  target: ScopedTable,
  row: TableRow,
  roleToCheckForOwnership: string | null,
): DoctorFinding[] {
  const subject = { table: target.table, ...(target.model ? { model: target.model } : {}) }
  const name = qualified(row.schema, target.table)
  const what = target.model ? `${name} (model ${target.model})` : name
  const column = quoteIdentifier(target.column)
  if (!row.exists) {
    return [
      {
        code: 'TABLE_MISSING',
        ...subject,
        message: `${what} does not exist: apply the migrations (\`acme migrate apply\`), or correct the model's @@map or the schema option.`,
      },
    ]
  }
  const findings: DoctorFinding[] = []
  if (roleToCheckForOwnership !== null && row.owned_by_role) {
    findings.push({
      code: 'ROLE_OWNS_TENANT_TABLE',
      ...subject,
      message: `Role ${quoteIdentifier(roleToCheckForOwnership)} owns ${what}, directly or through membership of its owner, so it can disable row-level security or drop the policy: let the migration role own the tables and ${APP_ROLE_ADVICE}.`,
    })
  }
  if (!row.rls_enabled) {
    findings.push({
      code: 'RLS_NOT_ENABLED',
      ...subject,
      message: `Row-level security is off on ${what}, so every tenant's rows are visible: run ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY.`,
    })
  }
  if (!row.rls_forced) {
    findings.push({
      code: 'RLS_NOT_FORCED',
      ...subject,
      message: `Row-level security is not forced on ${what}, so its owner is not subject to the policies: run ALTER TABLE ${name} FORCE ROW LEVEL SECURITY.`,
    })
  }
  if (!row.has_policy) {
    findings.push({
      code: 'POLICY_MISSING',
      ...subject,
      message: `${what} has no row-level security policy: create one, e.g. CREATE POLICY acme_tenant_isolation ON ${name} USING (${column} = NULLIF(current_setting('${RLS_SETTINGS.tenantId}', true), '')::uuid) WITH CHECK (${column} = NULLIF(current_setting('${RLS_SETTINGS.tenantId}', true), '')::uuid).`,
    })
  }
  return findings
}

function superuserFinding(roleName: string): DoctorFinding {
  return {
    code: 'ROLE_IS_SUPERUSER',
    message: `The app connects as ${quoteIdentifier(roleName)}, a superuser, and PostgreSQL applies no row-level security to superusers: ${APP_ROLE_ADVICE}.`,
  }
}

function bypassFinding(roleName: string): DoctorFinding {
  return {
    code: 'ROLE_BYPASSES_RLS',
    message: `The app connects as ${quoteIdentifier(roleName)}, which has BYPASSRLS, so no policy applies to it: run ALTER ROLE ${quoteIdentifier(roleName)} NOBYPASSRLS, or ${APP_ROLE_ADVICE}.`,
  }
}

function qualified(schema: string, table: string): string {
  return `${quoteIdentifier(schema)}.${quoteIdentifier(table)}`
}

/** As PostgreSQL quotes identifiers, so the SQL in a message can be pasted as is. */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** One line per finding, for logs and CI output. */
export function formatFindings(findings: readonly DoctorFinding[]): string {
  return findings
    .map((finding) => {
      const subject = finding.table
        ? ` ${finding.table}${finding.model ? ` (${finding.model})` : ''}`
        : ''
      return `${finding.code}${subject}: ${finding.message.replace(/\s+/g, ' ')}`
    })
    .join('\n')
}
