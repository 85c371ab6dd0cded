import { MergeError } from './errors.js'
import type { SchemaBlock, SourceLine } from './scan.js'

const SCALAR_TYPES = new Set([
  'String',
  'Boolean',
  'Int',
  'BigInt',
  'Float',
  'Decimal',
  'DateTime',
  'Json',
  'Bytes',
  'Unsupported',
])

const FIELD_LINE = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z_][A-Za-z0-9_]*)/

export interface TypeReference {
  typeName: string
  source: SourceLine
}

/** Non-scalar types named by the fields of a model-like block (models, views, types, extends). */
export function referencedTypes(block: SchemaBlock): TypeReference[] {
  const references: TypeReference[] = []
  for (const source of block.body) {
    const trimmed = source.text.trim()
    if (trimmed === '' || trimmed.startsWith('//') || trimmed.startsWith('@@')) continue
    const match = FIELD_LINE.exec(source.text)
    const typeName = match?.[2]
    if (typeName && !SCALAR_TYPES.has(typeName)) references.push({ typeName, source })
  }
  return references
}

const ACME_MARKER = /^\s*\/\/\/\s*@acme\.([A-Za-z]+)\b/
const KNOWN_MARKERS = new Set(['tenantOwned'])
const TENANT_OWNED_MARKER = /^\s*\/\/\/\s*@acme\.tenantOwned(?![A-Za-z0-9_])/

/**
 * Whether `/// @acme.tenantOwned` sits above the block, without judging other markers: for
 * reading schemas the merge already checked (the merged output, the migrations' snapshot).
 */
export function hasTenantOwnedMarker(block: SchemaBlock): boolean {
  return block.leading.some((source) => TENANT_OWNED_MARKER.test(source.text))
}

/**
 * `/// @acme.tenantOwned` above a model. It is a doc comment, so Prisma accepts it and it stays
 * in the output for readers; an unknown `@acme.` marker is an error because a typo would
 * otherwise silently leave a model unprotected.
 */
export function isTenantOwned(block: SchemaBlock): boolean {
  let tenantOwned = false
  for (const source of block.leading) {
    const marker = ACME_MARKER.exec(source.text)?.[1]
    if (!marker) continue
    const location = { file: block.file, line: source.line }
    if (!KNOWN_MARKERS.has(marker)) {
      throw new MergeError(
        'ACME_CLI_FRAGMENT_INVALID',
        `${block.file}:${source.line}: unknown marker \`@acme.${marker}\` (known: @acme.tenantOwned)`,
        [location],
      )
    }
    if (block.kind !== 'model') {
      throw new MergeError(
        'ACME_CLI_FRAGMENT_INVALID',
        `${block.file}:${source.line}: \`@acme.${marker}\` applies to \`model\` blocks only, not to \`${block.kind === 'extend' ? 'extend model' : block.kind} ${block.name}\``,
        [location],
      )
    }
    tenantOwned = true
  }
  return tenantOwned
}
