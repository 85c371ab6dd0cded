import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { discoverFragments, explicitFragment, type FragmentFile } from './discover.js'
import { MergeError } from './errors.js'
import { isTenantOwned } from './fields.js'
import { displayPath } from './paths.js'
import { type SchemaBlock, scanSchema } from './scan.js'

export const APP_SOURCE = 'app'

/** One scanned file: one of the app's own files, or one plugin fragment. */
export interface SchemaUnit {
  /** `app`, a package name, or a loose fragment's path. */
  source: string
  origin: 'app' | 'fragment'
  version: string | null
  absolutePath: string
  displayPath: string
  markerPath: string
  text: string
  blocks: SchemaBlock[]
  tenantOwned: Set<string>
  sql: string | null
}

/** The app's `.prisma` files: the input file, or every one under the input folder, by path. */
export function loadAppUnits(input: string, cwd: string): SchemaUnit[] {
  if (!existsSync(input)) {
    throw new MergeError(
      'ACME_CLI_INPUT_NOT_FOUND',
      `the app's schema (input) does not exist: ${displayPath(cwd, input)}. Run \`acme init\` to create it (or to move a schema of yours from prisma/schema.prisma there)`,
    )
  }
  const files = statSync(input).isDirectory() ? listPrismaFiles(input) : [input]
  return files.map((absolutePath) => {
    const shown = displayPath(cwd, absolutePath)
    const text = readFileSync(absolutePath, 'utf8')
    const blocks = scanSchema(text, { file: shown, errorCode: 'ACME_CLI_SCHEMA_SYNTAX' })
    const extend = blocks.find((block) => block.kind === 'extend')
    if (extend) {
      // The app's files are plain Prisma that Prisma itself may read (folder output).
      throw new MergeError(
        'ACME_CLI_SCHEMA_SYNTAX',
        `${shown}:${extend.header.line}: \`extend model\` is for plugin fragments; add the fields to your model directly`,
        [{ file: shown, line: extend.header.line }],
      )
    }
    return {
      source: APP_SOURCE,
      origin: 'app',
      version: null,
      absolutePath,
      displayPath: shown,
      markerPath: shown,
      text,
      blocks,
      tenantOwned: tenantOwnedModels(blocks),
      sql: null,
    }
  })
}

export function listPrismaFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.prisma'))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort((a, b) => compareStrings(a, b))
}

/** Code-unit order, not locale order: the output must not depend on the machine's locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Discovered and explicit fragments, one per file, sorted by source (package name or path). */
export function loadFragmentUnits(
  cwd: string,
  explicit: string[],
  discover: boolean,
): SchemaUnit[] {
  const found = [
    ...(discover ? discoverFragments(cwd) : []),
    ...explicit.map((path) => explicitFragment(path, cwd)),
  ]
  const byRealPath = new Map<string, FragmentFile>()
  const bySource = new Map<string, FragmentFile>()
  for (const fragment of found) {
    const realPath = realpathSync(fragment.absolutePath)
    // Listing a discovered package's fragment explicitly as well is harmless: keep the first.
    if (byRealPath.has(realPath)) continue
    const sameSource = bySource.get(fragment.source)
    if (sameSource) {
      throw new MergeError(
        'ACME_CLI_DUPLICATE_FRAGMENT',
        `${fragment.source} provides two fragments: ${sameSource.displayPath} and ${fragment.displayPath}`,
      )
    }
    byRealPath.set(realPath, fragment)
    bySource.set(fragment.source, fragment)
  }
  return [...bySource.values()]
    .sort((a, b) => compareStrings(a.source, b.source))
    .map((fragment) => loadFragmentUnit(fragment))
}

function loadFragmentUnit(fragment: FragmentFile): SchemaUnit {
  const text = readFileSync(fragment.absolutePath, 'utf8')
  const blocks = scanSchema(text, {
    file: fragment.displayPath,
    errorCode: 'ACME_CLI_FRAGMENT_SYNTAX',
  })
  const appOwned = blocks.find((block) => block.kind === 'generator' || block.kind === 'datasource')
  if (appOwned) {
    throw new MergeError(
      'ACME_CLI_FRAGMENT_INVALID',
      `${fragment.displayPath}:${appOwned.header.line}: a fragment may not declare \`${appOwned.kind} ${appOwned.name}\`; the app owns its generator and datasource`,
      [{ file: fragment.displayPath, line: appOwned.header.line }],
    )
  }
  const sql = fragment.sqlPath ? readFileSync(fragment.sqlPath, 'utf8') : null
  return {
    source: fragment.source,
    origin: 'fragment',
    version: fragment.version,
    absolutePath: fragment.absolutePath,
    displayPath: fragment.displayPath,
    markerPath: fragment.markerPath,
    text,
    blocks,
    tenantOwned: tenantOwnedModels(blocks),
    sql: sql === null || sql.trim() === '' ? null : sql,
  }
}

function tenantOwnedModels(blocks: SchemaBlock[]): Set<string> {
  return new Set(blocks.filter((block) => isTenantOwned(block)).map((block) => block.name))
}
