import { cp, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { MergeManifest } from '../../src/manifest.js'
import { migrateDiff } from '../../src/migrate/index.js'

export const MIGRATE_FIXTURES = fileURLToPath(new URL('../fixtures/migrate/', import.meta.url))
/** The migrations folder the step sequence must produce, committed after review. */
export const EXPECTED_MIGRATIONS = path.join(MIGRATE_FIXTURES, 'expected', 'migrations')
/** The single migration from nothing to the last step, the drift test's reference. */
export const EXPECTED_FROM_EMPTY = path.join(MIGRATE_FIXTURES, 'expected', 'from-empty')

export interface SchemaStep {
  /** The migration name, from the step folder without its number. */
  name: string
  /** schema.prisma, or a schema/ folder for a multi-file step. */
  schema: string
}

export async function schemaSteps(): Promise<SchemaStep[]> {
  const stepsDir = path.join(MIGRATE_FIXTURES, 'steps')
  const folders = (await readdir(stepsDir)).sort()
  const steps: SchemaStep[] = []
  for (const folder of folders) {
    const file = path.join(stepsDir, folder, 'schema.prisma')
    const isFile = await stat(file).then(
      (info) => info.isFile(),
      () => false,
    )
    steps.push({
      name: folder.replace(/^\d+_/, ''),
      schema: isFile ? file : path.join(stepsDir, folder, 'schema'),
    })
  }
  return steps
}

export async function fixtureManifest(): Promise<MergeManifest> {
  const text = await readFile(path.join(MIGRATE_FIXTURES, 'manifest.json'), 'utf8')
  const parsed: MergeManifest = JSON.parse(text)
  return parsed
}

/** Step N is computed at 2025-01-01T00:0N:00Z, so folder names never depend on the clock. */
export function stepClock(index: number): () => Date {
  return () => new Date(Date.UTC(2025, 0, 1, 0, index + 1, 0))
}

/** Runs `migrateDiff` for every step into `migrationsDir`. */
export async function diffAllSteps(migrationsDir: string): Promise<string[]> {
  const manifest = await fixtureManifest()
  const written: string[] = []
  for (const [index, step] of (await schemaSteps()).entries()) {
    const result = await migrateDiff({
      schema: step.schema,
      migrationsDir,
      name: step.name,
      manifest,
      now: stepClock(index),
    })
    if (result.migrationDir === null) throw new Error(`step ${step.name} produced no migration`)
    written.push(path.basename(result.migrationDir))
  }
  return written
}

/** Every file under `root` (relative posix path → content), for byte-for-byte comparison. */
export async function readTree(root: string): Promise<Record<string, string>> {
  const tree: Record<string, string> = {}
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const absolute = path.join(folder, entry.name)
      if (entry.isDirectory()) await walk(absolute)
      else
        tree[path.relative(root, absolute).split(path.sep).join('/')] = await readFile(
          absolute,
          'utf8',
        )
    }
  }
  await walk(root)
  return tree
}

/** Copies the committed migrations to a scratch folder a test may edit. */
export async function copyOfExpectedMigrations(names?: string[]): Promise<TempDir> {
  const dir = await makeTempDir()
  for (const entry of await readdir(EXPECTED_MIGRATIONS)) {
    if (names !== undefined && !names.includes(entry)) continue
    await cp(path.join(EXPECTED_MIGRATIONS, entry), path.join(dir.path, entry), { recursive: true })
  }
  return dir
}

export interface TempDir {
  path: string
  remove(): Promise<void>
}

export async function makeTempDir(): Promise<TempDir> {
  const dir = await mkdtemp(path.join(tmpdir(), 'acme-cli-migrate-'))
  return { path: dir, remove: () => rm(dir, { recursive: true, force: true }) }
}

/** Names of the committed migration folders, in order. */
export async function expectedMigrationNames(): Promise<string[]> {
  const entries = await readdir(EXPECTED_MIGRATIONS, { withFileTypes: true })
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
}
