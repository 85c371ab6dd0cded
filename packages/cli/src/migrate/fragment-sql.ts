import type { MergeManifest } from '../manifest.js'

/**
 * Raw SQL (RLS policies, extensions) the merge manifest carries for fragments whose tables this
 * migration creates. A fragment counts as new when none of its models existed before and some
 * exist now: its SQL then lands exactly once, in the migration that creates its first tables, and
 * a later version of the fragment that adds a model does not replay policies that already exist.
 */
export function sqlOfNewFragments(
  manifest: MergeManifest | null | undefined,
  previousModels: ReadonlySet<string>,
  currentModels: ReadonlySet<string>,
): string {
  if (manifest == null) return ''
  const sections: string[] = []
  for (const fragment of manifest.fragments) {
    if (fragment.sql === null || fragment.sql.trim() === '') continue
    const existedBefore = fragment.models.some((model) => previousModels.has(model))
    const createdNow = fragment.models.some((model) => currentModels.has(model))
    if (existedBefore || !createdNow) continue
    sections.push(`\n-- acme: raw SQL of fragment ${fragment.source}\n${fragment.sql.trim()}\n`)
  }
  return sections.join('')
}
