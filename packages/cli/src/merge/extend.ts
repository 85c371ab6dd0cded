import { MergeError } from './errors.js'
import { referencedTypes } from './fields.js'
import type { SchemaUnit } from './load.js'
import type { SchemaBlock } from './scan.js'

/** A named model, enum, composite type or view, and the unit that defines it. */
export interface Definition {
  block: SchemaBlock
  unit: SchemaUnit
}

/** Every name defined across the app and the fragments; a name defined twice is an error. */
export function collectDefinitions(units: SchemaUnit[]): Map<string, Definition> {
  const definitions = new Map<string, Definition>()
  for (const unit of units) {
    for (const block of unit.blocks) {
      if (block.kind === 'extend' || block.kind === 'generator' || block.kind === 'datasource') {
        continue
      }
      const existing = definitions.get(block.name)
      if (existing) {
        const first = { file: existing.block.file, line: existing.block.header.line }
        const second = { file: block.file, line: block.header.line }
        throw new MergeError(
          'ACME_CLI_DUPLICATE_MODEL',
          `\`${block.name}\` is defined twice: ${existing.block.kind} at ${first.file}:${first.line} (${existing.unit.source}) and ${block.kind} at ${second.file}:${second.line} (${unit.source})`,
          [first, second],
        )
      }
      definitions.set(block.name, { block, unit })
    }
  }
  return definitions
}

export interface Extension {
  block: SchemaBlock
  unit: SchemaUnit
}

export interface DroppedExtension extends Extension {
  /** The models (or enums, types) it names that no installed fragment nor the app defines. */
  missing: string[]
}

export interface ExtensionPlan {
  /** Extensions to fold in, by target model, in unit order then block order. */
  byTarget: Map<string, Extension[]>
  dropped: DroppedExtension[]
}

/**
 * An `extend model` block applies all or nothing: only when its target model and every
 * model, enum or type its fields name are present. Otherwise it is dropped, which is what lets
 * a fragment relate to a plugin that may not be installed.
 */
export function planExtensions(
  units: SchemaUnit[],
  definitions: Map<string, Definition>,
): ExtensionPlan {
  const byTarget = new Map<string, Extension[]>()
  const dropped: DroppedExtension[] = []
  for (const unit of units) {
    for (const block of unit.blocks) {
      if (block.kind !== 'extend') continue
      const target = definitions.get(block.name)
      if (target && target.block.kind !== 'model') {
        throw new MergeError(
          'ACME_CLI_FRAGMENT_INVALID',
          `${block.file}:${block.header.line}: \`extend model ${block.name}\` targets a ${target.block.kind} (${target.block.file}:${target.block.header.line}); only models can be extended`,
          [
            { file: block.file, line: block.header.line },
            { file: target.block.file, line: target.block.header.line },
          ],
        )
      }
      const missing = [
        ...new Set(
          [block.name, ...referencedTypes(block).map((reference) => reference.typeName)].filter(
            (name) => !definitions.has(name),
          ),
        ),
      ]
      if (missing.length > 0) {
        dropped.push({ block, unit, missing })
        continue
      }
      const extensions = byTarget.get(block.name) ?? []
      extensions.push({ block, unit })
      byTarget.set(block.name, extensions)
    }
  }
  return { byTarget, dropped }
}
