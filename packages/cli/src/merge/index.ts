import { join, resolve } from 'node:path'
import type { MergeManifest } from '../manifest.js'
import { collectDefinitions, planExtensions } from './extend.js'
import { loadAppUnits, loadFragmentUnits } from './load.js'
import { buildManifest, serializeManifest } from './manifest.js'
import {
  applyChanges,
  assertOutputPlacement,
  outputLayout,
  planChanges,
  unifiedDiff,
} from './output.js'
import { displayPath } from './paths.js'
import { renderFolder, renderSingleFile } from './render.js'
import { assertTenantIdFields } from './tenant-owned.js'
import { formatSchema, type SchemaFile, validateSchema } from './validate.js'

export { MergeError, type MergeErrorCode, type SourceLocation } from './errors.js'
export { GENERATED_MARKER } from './render.js'

export interface MergeOptions {
  /** The app's folder: relative paths are resolved from it, and its package.json is read. */
  cwd: string
  /** The app's own schema: a .prisma file or a folder. Read, never written. */
  input: string
  /** A .prisma file (single-file) or a folder (Prisma multi-file). */
  output: string
  /** Explicit fragments, in addition to discovered ones: `.prisma` files or package folders. */
  fragments?: string[]
  /** Read fragments from the app's dependencies (default true). */
  discover?: boolean
  mode: 'write' | 'dry-run' | 'check'
}

export interface DroppedExtension {
  file: string
  line: number
  target: string
  /** The names the extension needs that neither the app nor an installed fragment defines. */
  missing: string[]
}

export interface MergeResult {
  /** Whether the files on disk differ from what the merge produces (were, in `write` mode). */
  changed: boolean
  /** Unified diff of the produced files against the disk; '' when they are the same. */
  diff: string
  /** Path (relative to cwd, `/`-separated) -> content that is, or would be, written. */
  files: Record<string, string>
  /** Previously generated files that are no longer produced: deleted in `write` mode. */
  removed: string[]
  manifest: MergeManifest
  /** `extend model` blocks left out because a model they name is not installed. */
  droppedExtensions: DroppedExtension[]
}

/**
 * Merges the app's own schema with the installed plugins' fragments into one Prisma schema
 * (file or folder) and its manifest. Validation and formatting are Prisma's own (WebAssembly).
 */
export async function mergeSchema(options: MergeOptions): Promise<MergeResult> {
  const cwd = resolve(options.cwd)
  const input = resolve(cwd, options.input)
  const layout = outputLayout(resolve(cwd, options.output))

  const appUnits = loadAppUnits(input, cwd)
  const fragmentUnits = loadFragmentUnits(cwd, options.fragments ?? [], options.discover ?? true)
  assertOutputPlacement(
    layout,
    input,
    fragmentUnits.map((unit) => unit.absolutePath),
    cwd,
  )
  const units = [...appUnits, ...fragmentUnits]
  const plan = planExtensions(units, collectDefinitions(units))
  const renderInput = { input: displayPath(cwd, input), appUnits, fragmentUnits, plan }

  const generated: SchemaFile[] = []
  const schemaFiles: SchemaFile[] = []
  if (layout.kind === 'file') {
    const map = renderSingleFile(renderInput)
    generated.push({ path: displayPath(cwd, layout.path), text: map.toString(), map })
  } else {
    for (const [name, map] of renderFolder(renderInput)) {
      generated.push({ path: displayPath(cwd, join(layout.path, name)), text: map.toString(), map })
    }
    // Prisma reads the app's files beside the output folder, so they are validated together.
    for (const unit of appUnits) {
      schemaFiles.push({ path: unit.displayPath, text: unit.text, map: null })
    }
  }
  schemaFiles.push(...generated)
  await validateSchema(schemaFiles)
  assertTenantIdFields(units, plan)
  const formatted = await formatSchema(schemaFiles)

  const manifest = buildManifest(appUnits, fragmentUnits)
  const outputFiles = new Map<string, string>()
  for (const file of generated) {
    outputFiles.set(resolve(cwd, file.path), formatted.get(file.path) ?? file.text)
  }
  outputFiles.set(layout.manifestPath, serializeManifest(manifest))

  const changes = planChanges(layout, outputFiles, cwd)
  if (options.mode === 'write') applyChanges(changes)

  return {
    changed: changes.length > 0,
    diff: unifiedDiff(changes, cwd),
    files: Object.fromEntries(
      [...outputFiles].map(([path, content]) => [displayPath(cwd, path), content]),
    ),
    removed: changes
      .filter((change) => change.after === null)
      .map((change) => displayPath(cwd, change.path)),
    manifest,
    droppedExtensions: plan.dropped.map(({ block, missing }) => ({
      file: block.file,
      line: block.header.line,
      target: block.name,
      missing,
    })),
  }
}
