import type { FragmentRecord, MergeManifest } from '../manifest.js'
import { APP_SOURCE, compareStrings, type SchemaUnit } from './load.js'

/** The app's record first (as in the schema), then one per fragment, sorted by source. */
export function buildManifest(appUnits: SchemaUnit[], fragmentUnits: SchemaUnit[]): MergeManifest {
  const app: FragmentRecord = {
    source: APP_SOURCE,
    version: null,
    models: sortedModels(appUnits),
    tenantOwned: sortedTenantOwned(appUnits),
    sql: null,
  }
  const fragments = [...fragmentUnits]
    .sort((a, b) => compareStrings(a.source, b.source))
    .map(
      (unit): FragmentRecord => ({
        source: unit.source,
        version: unit.version,
        models: sortedModels([unit]),
        tenantOwned: sortedTenantOwned([unit]),
        sql: unit.sql,
      }),
    )
  return { version: 1, fragments: [app, ...fragments] }
}

function sortedModels(units: SchemaUnit[]): string[] {
  return units
    .flatMap((unit) => unit.blocks.filter((block) => block.kind === 'model'))
    .map((block) => block.name)
    .sort(compareStrings)
}

function sortedTenantOwned(units: SchemaUnit[]): string[] {
  return units.flatMap((unit) => [...unit.tenantOwned]).sort(compareStrings)
}

export function serializeManifest(manifest: MergeManifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`
}
