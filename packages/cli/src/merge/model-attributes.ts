import type { SourceLine } from './scan.js'

/**
 * Reads what row-level security needs from a model's lines: one field's type, column name and
 * native type, and the block's `@@map` / `@@schema`. Like the scanner, this is not a Prisma
 * grammar: Prisma's own validator has accepted (or will reject) the schema, so only the shapes
 * it allows need reading.
 */

export interface FieldDeclaration {
  name: string
  /** The type name without `?` or `[]`. */
  type: string
  optional: boolean
  list: boolean
  /** The `@map` name, else the field name. */
  column: string
  /** `Uuid` for `@db.Uuid`, `VarChar` for `@db.VarChar(36)`, null without a native type. */
  nativeType: string | null
  source: SourceLine
}

const FIELD = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s+([A-Za-z_][A-Za-z0-9_]*)(\[\])?(\?)?/
const STRING = '"((?:[^"\\\\]|\\\\.)*)"'
// `@map` of a field, never `@@map`; Prisma also accepts the argument named (`name: "x"`).
const FIELD_MAP = new RegExp(`(?:^|[^@])@map\\(\\s*(?:name\\s*:\\s*)?${STRING}`)
const NATIVE_TYPE = /@db\.([A-Za-z]+)/

/** The field called `name` in a model's body lines, or null when the model has none. */
export function findField(lines: readonly SourceLine[], name: string): FieldDeclaration | null {
  for (const source of lines) {
    const code = codeOf(source.text)
    const match = FIELD.exec(code)
    if (!match || match[1] !== name || !match[2]) continue
    const column = FIELD_MAP.exec(code)?.[1]
    return {
      name,
      type: match[2],
      optional: match[4] === '?',
      list: match[3] === '[]',
      column: column === undefined ? name : unescapePrismaString(column),
      nativeType: NATIVE_TYPE.exec(withoutStrings(code))?.[1] ?? null,
      source,
    }
  }
  return null
}

/** The string argument of a block attribute such as `@@map("notes")` or `@@schema("app")`. */
export function blockAttributeString(
  lines: readonly SourceLine[],
  attribute: 'map' | 'schema',
): string | null {
  const pattern = new RegExp(`^\\s*@@${attribute}\\(\\s*(?:name\\s*:\\s*)?${STRING}\\s*\\)`)
  for (const source of lines) {
    const value = pattern.exec(codeOf(source.text))?.[1]
    if (value !== undefined) return unescapePrismaString(value)
  }
  return null
}

/** The line without its trailing `//` comment; `//` inside a string literal is kept. */
function codeOf(text: string): string {
  let inString = false
  for (let column = 0; column < text.length; column++) {
    const char = text[column]
    if (inString) {
      if (char === '\\') column++
      else if (char === '"') inString = false
    } else if (char === '"') inString = true
    else if (char === '/' && text[column + 1] === '/') return text.slice(0, column)
  }
  return text
}

/** So `@default("@db.Uuid")` is not read as a native type. */
function withoutStrings(code: string): string {
  return code.replace(/"(?:[^"\\]|\\.)*"/g, '""')
}

/** Prisma's string escapes are JSON's for every name a table or column can sensibly have. */
function unescapePrismaString(raw: string): string {
  try {
    const value: unknown = JSON.parse(`"${raw}"`)
    return typeof value === 'string' ? value : raw
  } catch {
    return raw
  }
}
