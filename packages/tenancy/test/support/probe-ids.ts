/** The kinds of object a route parameter can name, for which the probe seeds ids. */
export const ID_KINDS = ['tenant', 'user', 'note', 'invitation', 'session', 'apiKey'] as const
export type IdKind = (typeof ID_KINDS)[number]

/** Seeded ids of one tenant, by kind. The first id of a kind is the least disruptive to act on. */
export type IdsByKind = Record<IdKind, string[]>

const ALIASES: Record<string, IdKind> = {
  tenant: 'tenant',
  user: 'user',
  member: 'user',
  note: 'note',
  invitation: 'invitation',
  session: 'session',
  key: 'apiKey',
  apikey: 'apiKey',
  'api-key': 'apiKey',
}

const singular = (word: string) => word.replace(/ies$/, 'y').replace(/s$/, '')

/**
 * The kind of object `{name}` names in `path`: from the parameter's name (`userId`, `keyId`...)
 * or, for a bare `{id}`, from the collection segment before it (`/notes/{id}` → note). Null when
 * the probe does not know it: the test then fails, so a new route is never silently skipped.
 */
export function kindOfParameter(path: string, name: string): IdKind | null {
  const stem = name.replace(/_?id$/i, '').toLowerCase()
  if (stem !== '') return ALIASES[stem] ?? ALIASES[singular(stem)] ?? null
  const segments = path.split('/')
  const at = segments.indexOf(`{${name}}`)
  const collection = at > 0 ? segments[at - 1] : undefined
  if (!collection || collection.startsWith('{')) return null
  const word = singular(collection.toLowerCase())
  return ALIASES[word] ?? ALIASES[word.replace(/-/g, '')] ?? null
}

/** Every combination of one value per name (the cartesian product), in a stable order. */
export function combinations(
  choices: ReadonlyArray<readonly [string, readonly string[]]>,
): Array<Record<string, string>> {
  let out: Array<Record<string, string>> = [{}]
  for (const [name, values] of choices) {
    out = out.flatMap((partial) => values.map((value) => ({ ...partial, [name]: value })))
  }
  return out
}
