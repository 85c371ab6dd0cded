import { type SchemaBlock, scanSchema } from '../merge/scan.js'
import type { SchemaFile } from './schema-files.js'

export function blocksOf(file: SchemaFile): SchemaBlock[] {
  return scanSchema(file.content, { file: file.path, errorCode: 'ACME_CLI_SCHEMA_SYNTAX' })
}

function blockText(block: SchemaBlock): string {
  return [block.header, ...block.body, block.closing].map((line) => line.text).join('\n')
}

/** Names of the models a schema defines, across all its files. */
export function modelNames(files: SchemaFile[]): Set<string> {
  const names = new Set<string>()
  for (const file of files) {
    for (const block of blocksOf(file)) {
      if (block.kind === 'model') names.add(block.name)
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
    content: blocksOf(file)
      .filter((block) => block.kind === 'datasource' || block.kind === 'generator')
      .map((block) => `${blockText(block)}\n`)
      .join('\n'),
  }))
}
