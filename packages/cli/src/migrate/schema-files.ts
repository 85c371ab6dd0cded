import type { Dirent } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import path from 'node:path'
import { MigrateError } from './errors.js'

/** One file of a Prisma schema, in the shape the schema engine takes. */
export interface SchemaFile {
  /** Relative to the schema folder (posix separators), or the file name for a single file. */
  path: string
  content: string
}

/**
 * Reads a Prisma schema given as one file or as a folder of `.prisma` files (Prisma's multi-file
 * schema: every `.prisma` file under the folder, recursively). Files under `excludeDir` are
 * skipped, because the migrations folder usually sits inside the schema folder.
 */
export async function readSchemaFiles(schema: string, excludeDir?: string): Promise<SchemaFile[]> {
  const info = await stat(schema).catch(() => null)
  if (info === null) {
    throw new MigrateError(
      'ACME_CLI_SCHEMA_NOT_FOUND',
      `No Prisma schema at ${schema}. Pass the merged schema file or folder (run \`acme prisma merge\` first).`,
    )
  }
  if (info.isFile()) {
    return [{ path: path.basename(schema), content: await readFile(schema, 'utf8') }]
  }

  const excluded = excludeDir === undefined ? undefined : path.resolve(excludeDir)
  const files: SchemaFile[] = []
  for (const absolute of await listPrismaFiles(path.resolve(schema), excluded)) {
    const relative = path.relative(path.resolve(schema), absolute).split(path.sep).join('/')
    files.push({ path: relative, content: await readFile(absolute, 'utf8') })
  }
  if (files.length === 0) {
    throw new MigrateError(
      'ACME_CLI_SCHEMA_NOT_FOUND',
      `The schema folder ${schema} holds no .prisma files. Point --schema at the merged schema.`,
    )
  }
  // Sorted so the engine sees the same input, in the same order, on every machine.
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

async function listPrismaFiles(folder: string, excluded: string | undefined): Promise<string[]> {
  const entries: Dirent[] = await readdir(folder, { withFileTypes: true })
  const found: string[] = []
  for (const entry of entries) {
    const absolute = path.join(folder, entry.name)
    if (entry.isDirectory()) {
      if (absolute === excluded || entry.name === 'node_modules') continue
      found.push(...(await listPrismaFiles(absolute, excluded)))
    } else if (entry.isFile() && entry.name.endsWith('.prisma')) {
      found.push(absolute)
    }
  }
  return found
}
