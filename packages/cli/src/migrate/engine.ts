import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils'
import type { SchemaEngine } from '@prisma/schema-engine-wasm/schema_engine_bg'
import { PrismaPGlite } from 'pglite-prisma-adapter'
import { MigrateError, messageOf } from './errors.js'
import type { SchemaFile } from './schema-files.js'
import { instantiateWasm } from './wasm.js'

/**
 * The engine needs some datamodel to start; a bare PostgreSQL datasource is enough, since every
 * diff names both of its sides explicitly.
 */
const BOOT_DATAMODEL = 'datasource db {\n  provider = "postgresql"\n}\n'

const NO_FILTERS = { externalTables: [], externalEnums: [] }

let enginePromise: Promise<SchemaEngine> | undefined

/**
 * Prisma's schema engine compiled to WebAssembly: the same code `prisma migrate dev` runs natively,
 * but with nothing to download. Compiling the module takes seconds, so it is loaded once per
 * process and shared.
 */
export function loadSchemaEngine(): Promise<SchemaEngine> {
  enginePromise ??= startSchemaEngine().catch((error: unknown) => {
    enginePromise = undefined
    throw error
  })
  return enginePromise
}

async function startSchemaEngine(): Promise<SchemaEngine> {
  // The package's main entry imports the .wasm file as an ES module, which only bundlers
  // understand; its `_bg` glue module is plain JS and gets the compiled exports handed to it.
  const glue = await import('@prisma/schema-engine-wasm/schema_engine_bg')
  const wasmPath = path.join(path.dirname(resolveGlueModule()), 'schema_engine_bg.wasm')
  try {
    const exports = await instantiateWasm(await readFile(wasmPath), {
      './schema_engine_bg.js': glue,
    })
    glue.__wbg_set_wasm(exports)
    // wasm-bindgen's start function sets up the table of JS values the glue code relies on.
    const start: unknown = Reflect.get(exports, '__wbindgen_start')
    if (typeof start === 'function') Reflect.apply(start, exports, [])
    // The engine insists on a migration-aware driver adapter and opens it, but a datamodel-to-
    // datamodel diff never reads the database: an in-memory PGlite stands in, so no server is needed.
    const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPGlite(new PGlite()))
    return await glue.SchemaEngine.new(
      { datamodels: [['boot.prisma', BOOT_DATAMODEL]] },
      () => {},
      adapter,
    )
  } catch (error) {
    throw new MigrateError(
      'ACME_CLI_SCHEMA_ENGINE',
      `Could not start Prisma's schema engine (WebAssembly, ${wasmPath}): ${messageOf(error)}. ` +
        'Reinstall dependencies so @prisma/schema-engine-wasm is complete.',
      { cause: error },
    )
  }
}

function resolveGlueModule(): string {
  // This package ships ESM and CJS builds; `import.meta` only exists in the first one.
  const here = typeof __filename === 'string' ? __filename : import.meta.url
  return createRequire(here).resolve('@prisma/schema-engine-wasm/schema_engine_bg')
}

/**
 * The SQL that moves a database from the `from` datamodel to the `to` datamodel, exactly as
 * `prisma migrate diff --script` prints it, or null when the two datamodels need no change.
 */
export async function diffDatamodels(from: SchemaFile[], to: SchemaFile[]): Promise<string | null> {
  const engine = await loadSchemaEngine()
  try {
    const result = await engine.diff({
      from: { tag: 'schemaDatamodel', files: from },
      to: { tag: 'schemaDatamodel', files: to },
      script: true,
      // Exit code 2 is the engine's own "there are steps" signal, more robust than reading the script.
      exitCode: true,
      filters: NO_FILTERS,
    })
    if (result.exitCode !== 2) return null
    return result.stdout ?? ''
  } catch (error) {
    throw new MigrateError(
      'ACME_CLI_SCHEMA_ENGINE',
      `Prisma's schema engine could not diff the datamodels${engineErrorCode(error)}:\n` +
        `${messageOf(error).trim()}\nFix the schema (\`prisma validate\` shows the same errors) and run again.`,
      { cause: error },
    )
  }
}

function engineErrorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error
    if (typeof code === 'string' && code !== '') return ` (${code})`
  }
  return ''
}
