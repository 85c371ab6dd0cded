import type { SchemaFile } from './schema-files.js'

interface TopLevelBlock {
  keyword: string
  name: string
  text: string
}

const BLOCK_START = /^\s*([A-Za-z]+)\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{/

/**
 * Splits Prisma schema text into its top-level blocks (`model X { ... }`, `datasource db { ... }`).
 * Braces inside strings and `//` comments are ignored; this is all the parsing the migration
 * commands need, and it spares loading a second WebAssembly module.
 */
export function topLevelBlocks(schemaText: string): TopLevelBlock[] {
  const blocks: TopLevelBlock[] = []
  let current: { keyword: string; name: string; lines: string[]; depth: number } | null = null
  for (const line of schemaText.split('\n')) {
    if (current === null) {
      const start = BLOCK_START.exec(line)
      if (start === null) continue
      current = { keyword: start[1] ?? '', name: start[2] ?? '', lines: [], depth: 0 }
    }
    current.lines.push(line)
    current.depth += braceBalance(line)
    if (current.depth <= 0) {
      blocks.push({ keyword: current.keyword, name: current.name, text: current.lines.join('\n') })
      current = null
    }
  }
  return blocks
}

function braceBalance(line: string): number {
  let balance = 0
  let inString = false
  for (let index = 0; index < line.length; index++) {
    const char = line[index]
    if (inString) {
      if (char === '\\') index++
      else if (char === '"') inString = false
    } else if (char === '"') {
      inString = true
    } else if (char === '/' && line[index + 1] === '/') {
      break
    } else if (char === '{') {
      balance++
    } else if (char === '}') {
      balance--
    }
  }
  return balance
}

/** Names of the models a schema defines, across all its files. */
export function modelNames(files: SchemaFile[]): Set<string> {
  const names = new Set<string>()
  for (const file of files) {
    for (const block of topLevelBlocks(file.content)) {
      if (block.keyword === 'model') names.add(block.name)
    }
  }
  return names
}

/**
 * The schema with its models, enums and views removed: only `datasource` and `generator` blocks.
 * This is the starting point of a project's first migration; diffing from it (rather than from
 * "nothing") gives what `prisma migrate dev` writes for a fresh database, which already has its
 * `public` schema, so no `CREATE SCHEMA` line appears.
 */
export function configurationOnly(files: SchemaFile[]): SchemaFile[] {
  return files.map((file) => ({
    path: file.path,
    content: topLevelBlocks(file.content)
      .filter((block) => block.keyword === 'datasource' || block.keyword === 'generator')
      .map((block) => `${block.text}\n`)
      .join('\n'),
  }))
}
