import { MergeError, type SourceLocation } from './errors.js'
import type { ExtensionPlan } from './extend.js'
import type { SchemaUnit } from './load.js'
import { type FieldDeclaration, findField } from './model-attributes.js'

/** The field whose column the tenant-isolation policy compares with the current tenant. */
export const TENANT_ID_FIELD = 'tenantId'

export const TENANT_ID_EXAMPLE = `${TENANT_ID_FIELD} String @map("tenant_id") @db.Uuid`

/**
 * Why a tenant-owned model's `tenantId` cannot carry the policy, or null when it can. The
 * policy compares the column with a text setting (cast to uuid for `@db.Uuid`), so anything but
 * a single `String` would make the generated migration fail to apply.
 */
export function tenantIdProblem(model: string, field: FieldDeclaration | null): string | null {
  if (field === null) {
    return `model ${model} is marked \`/// @acme.tenantOwned\` but has no \`${TENANT_ID_FIELD}\` field, which its row-level security policy compares with the current tenant; add one, e.g. \`${TENANT_ID_EXAMPLE}\``
  }
  if (field.type !== 'String' || field.list) {
    return `\`${TENANT_ID_FIELD}\` of tenant-owned model ${model} is \`${field.type}${field.list ? '[]' : ''}\`; it must be \`String\` (\`@db.Uuid\` for a uuid column), which its row-level security policy compares with the current tenant`
  }
  return null
}

/**
 * Every tenant-owned model has a usable `tenantId` once extensions are folded in, so a missing
 * column is reported here, at the model, rather than when the migration's policy fails to apply.
 */
export function assertTenantIdFields(units: SchemaUnit[], plan: ExtensionPlan): void {
  for (const unit of units) {
    for (const block of unit.blocks) {
      if (block.kind !== 'model' || !unit.tenantOwned.has(block.name)) continue
      const candidates = [
        { file: block.file, lines: block.body },
        ...(plan.byTarget.get(block.name) ?? []).map((extension) => ({
          file: extension.block.file,
          lines: extension.block.body,
        })),
      ]
      let found: { field: FieldDeclaration; location: SourceLocation } | null = null
      for (const candidate of candidates) {
        const field = findField(candidate.lines, TENANT_ID_FIELD)
        if (field) {
          found = { field, location: { file: candidate.file, line: field.source.line } }
          break
        }
      }
      const problem = tenantIdProblem(block.name, found?.field ?? null)
      if (problem === null) continue
      const location = found?.location ?? { file: block.file, line: block.header.line }
      throw new MergeError(
        'ACME_CLI_TENANT_ID_MISSING',
        `${location.file}:${location.line}: ${problem}`,
        [location],
      )
    }
  }
}
