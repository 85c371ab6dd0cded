import { MergeError, type SourceLocation } from './errors.js'
import type { MappedText } from './source-map.js'

/**
 * Prisma's own validator and formatter, compiled to WebAssembly (the same code `prisma validate`
 * and `prisma format` run): no engine download, no network. Loaded on first use because
 * compiling the module costs time that commands other than merge should not pay.
 */
type PrismaSchemaWasm = typeof import('@prisma/prisma-schema-wasm')
let wasmModule: Promise<PrismaSchemaWasm> | undefined
const loadWasm = () => {
  wasmModule ??= import('@prisma/prisma-schema-wasm')
  return wasmModule
}

/** One file of the schema Prisma sees. `map` is set for generated files, null for the app's. */
export interface SchemaFile {
  path: string
  text: string
  map: MappedText | null
}

interface LintDiagnostic {
  file_name: string
  start: number
  end: number
  text: string
  is_warning: boolean
}

export async function validateSchema(files: SchemaFile[]): Promise<void> {
  const wasm = await loadWasm()
  const schemaFiles = files.map((file) => [file.path, file.text])
  try {
    wasm.validate(JSON.stringify({ prismaSchema: schemaFiles, noColor: true }))
    return
  } catch (error) {
    // `validate` reports lines of the merged schema only; `lint` gives the same diagnostics with
    // offsets per file, which map back through the source map to the fragment's own lines.
    const diagnostics = (
      JSON.parse(wasm.lint(JSON.stringify(schemaFiles))) as LintDiagnostic[]
    ).filter((diagnostic) => !diagnostic.is_warning)
    if (diagnostics.length === 0) {
      throw new MergeError(
        'ACME_CLI_SCHEMA_INVALID',
        `the merged Prisma schema is invalid: ${validatorMessage(error)}`,
      )
    }
    const located = diagnostics.map((diagnostic) => ({
      location: locate(files, diagnostic),
      text: diagnostic.text,
    }))
    const lines = located.map(
      ({ location, text }) => `  ${location.file}:${location.line}: ${text}${hintFor(text)}`,
    )
    throw new MergeError(
      'ACME_CLI_SCHEMA_INVALID',
      `the merged Prisma schema is invalid (${located.length} error${located.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
      located.map(({ location }) => location),
    )
  }
}

function validatorMessage(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error)
  try {
    const parsed = JSON.parse(raw) as { message?: unknown }
    return typeof parsed.message === 'string' ? parsed.message : raw
  } catch {
    return raw
  }
}

/** Diagnostic offsets count UTF-16 code units, like JavaScript string indices (checked). */
function locate(files: SchemaFile[], diagnostic: LintDiagnostic): SourceLocation {
  const file = files.find((candidate) => candidate.path === diagnostic.file_name)
  if (!file) return { file: diagnostic.file_name, line: 1 }
  const line = file.text.slice(0, diagnostic.start).split('\n').length
  return file.map?.originOf(line) ?? { file: file.path, line }
}

function hintFor(text: string): string {
  const unknownType = /^Type "([A-Za-z0-9_]+)" is neither a built-in type/.exec(text)?.[1]
  if (!unknownType) return ''
  return `\n    (if ${unknownType} belongs to a plugin that may not be installed, put the field in an \`extend model\` block: it is dropped when ${unknownType} is absent)`
}

/** Prisma's formatter, on all files at once (it needs the whole schema to align relations). */
export async function formatSchema(files: SchemaFile[]): Promise<Map<string, string>> {
  const wasm = await loadWasm()
  const formatted = JSON.parse(
    wasm.format(
      JSON.stringify(files.map((file) => [file.path, file.text])),
      JSON.stringify({
        textDocument: { uri: 'file:/schema.prisma' },
        options: { tabSize: 2, insertSpaces: true },
      }),
    ),
  ) as [string, string][]
  return new Map(formatted)
}
