import { MergeError, type MergeErrorCode } from './errors.js'

/**
 * A line-based block scanner, not a Prisma grammar: it only needs to find top-level blocks
 * (and their comments) so they can be moved between files. Everything inside a block is kept
 * verbatim and left to Prisma's own validator.
 */

export type BlockKind = 'model' | 'enum' | 'type' | 'view' | 'generator' | 'datasource' | 'extend'

export interface SourceLine {
  text: string
  /** 1-based line number in the scanned file. */
  line: number
}

export interface SchemaBlock {
  kind: BlockKind
  /** The block's name; for `extend model X` the name of the model it extends. */
  name: string
  /** Path of the scanned file as shown to the user. */
  file: string
  /** Comment lines (and blank lines between them) directly above the block. */
  leading: SourceLine[]
  header: SourceLine
  body: SourceLine[]
  closing: SourceLine
}

export interface ScanOptions {
  /** Path shown in error messages. */
  file: string
  /** Syntax errors in a plugin's fragment and in the app's own files get different codes. */
  errorCode: Extract<MergeErrorCode, 'ACME_CLI_FRAGMENT_SYNTAX' | 'ACME_CLI_SCHEMA_SYNTAX'>
}

const NAME = '[A-Za-z_][A-Za-z0-9_]*'
const TRAILING_COMMENT = '(?:\\/\\/.*)?'
const BLOCK_HEADER = new RegExp(
  `^(model|enum|type|view|generator|datasource)\\s+(${NAME})\\s*\\{\\s*${TRAILING_COMMENT}$`,
)
const EXTEND_HEADER = new RegExp(`^extend\\s+model\\s+(${NAME})\\s*\\{\\s*${TRAILING_COMMENT}$`)
const CLOSING_LINE = /^\s*\}\s*(?:\/\/.*)?$/
const LOOKS_LIKE_HEADER = /^(model|enum|type|view|generator|datasource|extend)\b/

export function scanSchema(text: string, options: ScanOptions): SchemaBlock[] {
  const lines = text.split(/\r?\n/)
  const blocks: SchemaBlock[] = []
  let pending: SourceLine[] = []
  const fail = (line: number, message: string): never => {
    throw new MergeError(options.errorCode, `${options.file}:${line}: ${message}`, [
      { file: options.file, line },
    ])
  }

  for (let index = 0; index < lines.length; index++) {
    const text = lines[index] ?? ''
    const trimmed = text.trim()
    const line = index + 1
    if (trimmed === '') {
      if (pending.length > 0) pending.push({ text: '', line })
      continue
    }
    if (trimmed.startsWith('//')) {
      pending.push({ text, line })
      continue
    }
    const header = parseHeader(trimmed)
    if (!header) {
      if (LOOKS_LIKE_HEADER.test(trimmed)) {
        fail(line, `expected \`${trimmed.split(/\s/)[0]} Name {\` with the brace on this line`)
      }
      fail(line, `unexpected text outside a block: \`${trimmed.slice(0, 60)}\``)
      return blocks
    }
    const closingIndex = findClosingLine(lines, index, header, fail)
    blocks.push({
      kind: header.kind,
      name: header.name,
      file: options.file,
      leading: trimBlankEdges(pending),
      header: { text, line },
      body: lines.slice(index + 1, closingIndex).map((bodyText, offset) => ({
        text: bodyText,
        line: line + 1 + offset,
      })),
      closing: { text: lines[closingIndex] ?? '}', line: closingIndex + 1 },
    })
    pending = []
    index = closingIndex
  }
  return blocks
}

interface BlockHeader {
  kind: BlockKind
  name: string
  label: string
}

function parseHeader(trimmed: string): BlockHeader | null {
  const extend = EXTEND_HEADER.exec(trimmed)
  if (extend?.[1]) return { kind: 'extend', name: extend[1], label: `extend model ${extend[1]}` }
  const block = BLOCK_HEADER.exec(trimmed)
  if (block?.[1] && block[2]) {
    return { kind: block[1] as BlockKind, name: block[2], label: `${block[1]} ${block[2]}` }
  }
  return null
}

/** Counts braces outside strings and comments, so `@default("{}")` does not close a block. */
function findClosingLine(
  lines: string[],
  headerIndex: number,
  header: BlockHeader,
  fail: (line: number, message: string) => never,
): number {
  let depth = 1
  for (let index = headerIndex + 1; index < lines.length; index++) {
    const text = lines[index] ?? ''
    // Prisma has no nested blocks, so a block header here means the previous block was left open;
    // naming both lines points at the missing brace instead of at the end of the file.
    if (depth === 1 && parseHeader(text.trim())) {
      fail(
        headerIndex + 1,
        `\`${header.label} {\` is not closed before line ${index + 1} (\`${text.trim()}\`)`,
      )
    }
    const closedAt = braceDepthAfter(text, depth)
    if (closedAt.depth === 0) {
      // Prisma rejects `id String @id }`; saying so here is clearer than its generic message.
      if (!CLOSING_LINE.test(text)) {
        fail(index + 1, `the closing brace of \`${header.label}\` must be on a line of its own`)
      }
      return index
    }
    depth = closedAt.depth
  }
  return fail(headerIndex + 1, `\`${header.label} {\` is never closed (missing \`}\`)`)
}

function braceDepthAfter(text: string, startDepth: number): { depth: number; column: number } {
  let depth = startDepth
  let inString = false
  for (let column = 0; column < text.length; column++) {
    const char = text[column]
    if (inString) {
      if (char === '\\') column++
      else if (char === '"') inString = false
      continue
    }
    if (char === '"') inString = true
    else if (char === '/' && text[column + 1] === '/') break
    else if (char === '{') depth++
    else if (char === '}') {
      depth--
      if (depth === 0) return { depth, column }
    }
  }
  return { depth, column: -1 }
}

function trimBlankEdges(lines: SourceLine[]): SourceLine[] {
  let start = 0
  let end = lines.length
  while (start < end && lines[start]?.text.trim() === '') start++
  while (end > start && lines[end - 1]?.text.trim() === '') end--
  return lines.slice(start, end)
}
