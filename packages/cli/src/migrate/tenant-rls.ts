import type { MergeManifest } from '../manifest.js'
import { tenantIdProblem } from '../merge/tenant-owned.js'
import { MigrateError } from './errors.js'
import { quoteIdentifier as quote } from './identifier.js'
import type { SchemaFile } from './schema-files.js'
import { type TenantOwnedModel, tableKey, tenantOwnedModels } from './tenant-tables.js'

/** The policy's name; policy names are per table, so every tenant-owned table has this one. */
export const TENANT_POLICY_NAME = 'acme_tenant_isolation'

/**
 * The transaction-local setting @acme/tenancy sets (`set_config(..., true)`) per request. The CLI
 * does not depend on core: this equals core's `RLS_SETTINGS.tenantId`, which core's tests hold.
 */
export const TENANT_SETTING = 'app.tenant_id'

/** A tenant-owned table as its policy names it. */
export interface TenantTable {
  model: string
  /** Qualifies the table when set (`@@schema`); otherwise the search_path's schema is used. */
  schema: string | null
  table: string
  column: string
  /** `@db.Uuid`: the setting is cast to uuid; a text column is compared with the text as is. */
  uuid: boolean
}

export interface TenantRlsInput {
  /** The datamodel the previous migration reached (the snapshot), or null before the first. */
  previous: readonly SchemaFile[] | null
  current: readonly SchemaFile[]
  /** When given, every model it lists as tenant-owned must carry the marker in `current`. */
  manifest?: MergeManifest | null
}

/**
 * The tables that need row-level security in this migration: those of tenant-owned models that
 * are new, or whose model was not tenant-owned in the previous datamodel. A table that already
 * had the policy is left alone, since `CREATE POLICY` is not idempotent.
 */
export function tablesNeedingRowLevelSecurity(input: TenantRlsInput): TenantTable[] {
  const current = tenantOwnedModels(input.current)
  assertManifestAgrees(input.manifest, current)
  const alreadyProtected = new Set(tenantOwnedModels(input.previous ?? []).map(tableKey))
  return current
    .filter((model) => !alreadyProtected.has(tableKey(model)))
    .map((model) => tenantTable(model))
}

/** The SQL appended to the migration for those tables, '' when there are none. */
export function tenantRowLevelSecuritySql(input: TenantRlsInput): string {
  return tablesNeedingRowLevelSecurity(input)
    .map((table) => `\n${rowLevelSecuritySection(table)}`)
    .join('')
}

/** Forced, so the table owner is bound by the policy too; only superusers and BYPASSRLS skip it. */
export function rowLevelSecuritySection(table: TenantTable): string {
  const name =
    table.schema === null ? quote(table.table) : `${quote(table.schema)}.${quote(table.table)}`
  const tenant = `NULLIF(current_setting('${TENANT_SETTING}', true), '')${table.uuid ? '::uuid' : ''}`
  const condition = `${quote(table.column)} = ${tenant}`
  return [
    `-- acme: row-level security of tenant-owned model ${table.model}`,
    `ALTER TABLE ${name} ENABLE ROW LEVEL SECURITY;`,
    `ALTER TABLE ${name} FORCE ROW LEVEL SECURITY;`,
    `CREATE POLICY ${quote(TENANT_POLICY_NAME)} ON ${name}`,
    `  USING (${condition})`,
    `  WITH CHECK (${condition});`,
    '',
  ].join('\n')
}

function tenantTable(model: TenantOwnedModel): TenantTable {
  const field = model.tenantId
  const problem = tenantIdProblem(model.model, field)
  if (field === null || problem !== null) {
    const line = field?.source.line ?? model.line
    throw new MigrateError('ACME_CLI_TENANT_ID_MISSING', `${model.file}:${line}: ${problem}`)
  }
  return {
    model: model.model,
    schema: model.schema,
    table: model.table,
    column: field.column,
    uuid: field.nativeType === 'Uuid',
  }
}

/**
 * The marker in the schema is what the next diff reads back from the snapshot; a model the
 * manifest calls tenant-owned without it would get its policy again in every later migration,
 * or never, so a schema and manifest that disagree are refused rather than guessed at.
 */
function assertManifestAgrees(
  manifest: MergeManifest | null | undefined,
  current: TenantOwnedModel[],
): void {
  if (manifest == null) return
  const marked = new Set(current.map((model) => model.model))
  const unmarked = manifest.fragments
    .flatMap((fragment) =>
      fragment.tenantOwned.map((model) => ({ model, source: fragment.source })),
    )
    .filter(({ model }) => !marked.has(model))
  if (unmarked.length === 0) return
  const listed = unmarked.map(({ model, source }) => `${model} (${source})`).join(', ')
  throw new MigrateError(
    'ACME_CLI_MANIFEST_STALE',
    `The merge manifest lists ${listed} as tenant-owned, but the schema has no model of that name marked \`/// @acme.tenantOwned\`. The schema and its manifest are out of step: run \`acme prisma merge\` and then \`acme migrate diff\` again.`,
  )
}
