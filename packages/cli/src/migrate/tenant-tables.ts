import { hasTenantOwnedMarker } from '../merge/fields.js'
import {
  blockAttributeString,
  type FieldDeclaration,
  findField,
} from '../merge/model-attributes.js'
import { TENANT_ID_FIELD } from '../merge/tenant-owned.js'
import { blocksOf } from './datamodel-blocks.js'
import type { SchemaFile } from './schema-files.js'
import { snapshotSections } from './snapshot.js'

/** A model marked `/// @acme.tenantOwned` in a datamodel, with the table it maps to. */
export interface TenantOwnedModel {
  model: string
  /** The schema file and line of the model, for messages. */
  file: string
  line: number
  /** `@@schema`, or null when the table lives in the migration's default schema. */
  schema: string | null
  /** `@@map`, else the model name. */
  table: string
  tenantId: FieldDeclaration | null
}

/**
 * The tenant-owned models of a datamodel, in schema order. The marker is a doc comment, which the
 * merged schema and the migrations' snapshot (a verbatim copy of it) both keep, so the same
 * reading tells what the previous migration and the current schema consider tenant-owned.
 */
export function tenantOwnedModels(files: readonly SchemaFile[]): TenantOwnedModel[] {
  const models: TenantOwnedModel[] = []
  for (const file of files.flatMap(snapshotSections)) {
    for (const block of blocksOf(file)) {
      if (block.kind !== 'model' || !hasTenantOwnedMarker(block)) continue
      models.push({
        model: block.name,
        file: file.path,
        line: block.header.line,
        schema: blockAttributeString(block.body, 'schema'),
        table: blockAttributeString(block.body, 'map') ?? block.name,
        tenantId: findField(block.body, TENANT_ID_FIELD),
      })
    }
  }
  return models
}

/**
 * One key per physical table: a model renamed but still mapped to the same table, or a table
 * that only gained an explicit `@@schema("public")`, keeps the policy it already has.
 */
export function tableKey(model: Pick<TenantOwnedModel, 'schema' | 'table'>): string {
  return JSON.stringify([model.schema ?? 'public', model.table])
}
