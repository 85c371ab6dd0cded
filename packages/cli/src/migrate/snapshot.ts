import { readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { SchemaFile } from './schema-files.js'

/**
 * The datamodel the newest migration leads to, kept beside the migrations so the next diff knows
 * where it starts from (the engine cannot replay migrations into a shadow database here).
 * Deliberately not named `*.prisma`: Prisma loads every `.prisma` file under a schema folder, and
 * the migrations folder often sits inside it.
 */
export const SNAPSHOT_FILE = 'datamodel.snapshot'

const HEADER = [
  '// Written by `acme migrate diff`: the datamodel the newest migration in this folder leads to.',
  '// The next `acme migrate diff` computes its migration from this text to the current schema.',
  '// Commit it with the migrations and do not edit it by hand.',
  '',
].join('\n')

const FILE_MARKER = '// ---- file: '

export function snapshotPath(migrationsDir: string): string {
  return path.join(migrationsDir, SNAPSHOT_FILE)
}

/** The previous datamodel, or null when no migration was ever computed here. */
export async function readSnapshot(migrationsDir: string): Promise<SchemaFile[] | null> {
  const content = await readFile(snapshotPath(migrationsDir), 'utf8').catch(() => null)
  if (content === null) return null
  // One file is enough: a multi-file schema is valid concatenated, and the engine only needs
  // the models, not where they were written.
  return [{ path: SNAPSHOT_FILE, content }]
}

/**
 * The snapshot cut back into the files it was written from, so a comment at the end of one file
 * is not read as a doc comment of the first block of the next. Other files come back whole.
 */
export function snapshotSections(file: SchemaFile): SchemaFile[] {
  const sections: SchemaFile[] = []
  let current: SchemaFile = { path: file.path, content: '' }
  for (const line of file.content.split('\n')) {
    const marker = line.startsWith(FILE_MARKER)
      ? /^(.*) ----$/.exec(line.slice(FILE_MARKER.length))
      : null
    if (marker?.[1] !== undefined) {
      sections.push(current)
      current = { path: `${file.path} (${marker[1]})`, content: '' }
    }
    current.content += `${line}\n`
  }
  sections.push(current)
  return sections.filter((section) => section.content.trim() !== '')
}

export async function writeSnapshot(migrationsDir: string, files: SchemaFile[]): Promise<void> {
  const body = files
    .map((file) => `${FILE_MARKER}${file.path} ----\n${file.content.replace(/\n?$/, '\n')}`)
    .join('\n')
  await writeFile(snapshotPath(migrationsDir), `${HEADER}\n${body}`, 'utf8')
}
