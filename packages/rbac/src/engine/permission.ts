/**
 * Permissions and compiled permission sets: the part of a check that runs on every request, so it
 * costs a few Set lookups and allocates nothing once the asked permission has been seen.
 *
 * Grammar (PERMISSION_PATTERN), at most 100 characters in all:
 * - `*`                    everything;
 * - `resource:action`      one action, e.g. `members:invite`;
 * - `resource:*`           every action on a resource;
 * - `resource:action:own`  that action, only on records the caller created;
 * - `resource:*:own`       every action on a resource, only on records the caller created.
 * Resource and action are `[a-z][a-z0-9-]*`. The action `own` is refused (`projects:own` would
 * read as "own projects" and is easily mistaken for a scope); `*:action`, `*:*` and `*:own` are
 * refused too: `*` alone means everything, and "own records of every resource" is too broad to be
 * a scope a reviewer can reason about.
 */

const MAX_PERMISSION_LENGTH = 100

/** The whole grammar, length included, so a request schema can use it as is. */
export const PERMISSION_PATTERN: RegExp =
  /^(?=.{1,100}$)(?:\*|[a-z][a-z0-9-]*:(?:\*|(?!own(?::|$))[a-z][a-z0-9-]*)(?::own)?)$/

export interface ParsedPermission {
  resource: string | '*'
  action: string | '*'
  own: boolean
}

/** A parsed grant or question, with the lookup key (`resource:action`, without `:own`) precomputed. */
interface Grant {
  readonly resource: string
  readonly action: string
  readonly own: boolean
  /** `resource:action` (or `*`): what the exact-grant Sets hold. */
  readonly key: string
  /** The canonical string form. */
  readonly text: string
}

const WILDCARD = '*'
const OWN_SUFFIX = ':own'

export function parsePermission(value: string): ParsedPermission | null {
  const grant = toGrant(value)
  return grant === null ? null : { resource: grant.resource, action: grant.action, own: grant.own }
}

export function isPermission(value: string): boolean {
  return toGrant(value) !== null
}

function toGrant(value: unknown): Grant | null {
  if (typeof value !== 'string' || value.length > MAX_PERMISSION_LENGTH) return null
  if (!PERMISSION_PATTERN.test(value)) return null
  if (value === WILDCARD) return grantOf(WILDCARD, WILDCARD, false)
  const [resource, action, suffix] = value.split(':')
  if (resource === undefined || action === undefined) return null
  return grantOf(resource, action, suffix !== undefined)
}

function grantOf(resource: string, action: string, own: boolean): Grant {
  if (resource === WILDCARD) return { resource, action: WILDCARD, own: false, key: '*', text: '*' }
  const key = `${resource}:${action}`
  return { resource, action, own, key, text: own ? key + OWN_SUFFIX : key }
}

/**
 * Questions asked of sets, parsed once: guards ask the same few strings millions of times. Bounded
 * because `can` may be handed strings from outside (a malformed one is cached as null too); when
 * full, the oldest question is forgotten and simply parsed again if asked.
 */
const MAX_CACHED_QUESTIONS = 10_000
const questions = new Map<string, Grant | null>()

function question(permission: string): Grant | null {
  const cached = questions.get(permission)
  if (cached !== undefined) return cached
  const parsed = toGrant(permission)
  if (questions.size >= MAX_CACHED_QUESTIONS) {
    const oldest = questions.keys().next()
    if (!oldest.done) questions.delete(oldest.value)
  }
  questions.set(permission, parsed)
  return parsed
}

/** What both grants allow, as one grant, or null when they share nothing. */
function meet(g: Grant, h: Grant): Grant | null {
  if (g.resource === WILDCARD) return h
  if (h.resource === WILDCARD) return g
  if (g.resource !== h.resource) return null
  let action: string
  if (g.action === WILDCARD) action = h.action
  else if (h.action === WILDCARD || h.action === g.action) action = g.action
  else return null
  return grantOf(g.resource, action, g.own || h.own)
}

function byText(a: Grant, b: Grant): number {
  return a.text < b.text ? -1 : a.text > b.text ? 1 : 0
}

/** A compiled, immutable set of granted permissions: checks are Set lookups, no allocation, no I/O. */
export class PermissionSet {
  static readonly EMPTY: PermissionSet = new PermissionSet([])

  /** `*` is granted. */
  readonly #all: boolean
  /** `resource:action` keys of full grants. */
  readonly #full = new Set<string>()
  /** Resources granted fully with `resource:*`. */
  readonly #fullResources = new Set<string>()
  /** `resource:action` keys of `resource:action:own` grants. */
  readonly #own = new Set<string>()
  /** Resources granted with `resource:*:own`. */
  readonly #ownResources = new Set<string>()
  /** Minimal, sorted: no grant here is covered by another one. */
  readonly #grants: readonly Grant[]

  private constructor(grants: readonly Grant[]) {
    let all = false
    for (const grant of grants) {
      if (grant.resource === WILDCARD) all = true
      else if (grant.action === WILDCARD)
        (grant.own ? this.#ownResources : this.#fullResources).add(grant.resource)
      else (grant.own ? this.#own : this.#full).add(grant.key)
    }
    this.#all = all
    // Normalised: a grant another one covers says nothing more (`r:a` beside `r:*`), and
    // dropping it makes equal sets print equally. A single grant is covered by the set only
    // when one grant covers it, so these Set checks are exact.
    const seen = new Set<string>()
    const kept: Grant[] = []
    for (const grant of grants) {
      if (seen.has(grant.text) || this.#coveredByAnother(grant)) continue
      seen.add(grant.text)
      kept.push(grant)
    }
    this.#grants = kept.sort(byText)
  }

  static of(granted: Iterable<string>): PermissionSet {
    // A lone string is iterable too, one character at a time: refuse it clearly.
    if (typeof granted === 'string') {
      throw new TypeError('PermissionSet.of expects a list of permissions, not a string')
    }
    const grants: Grant[] = []
    for (const value of granted) {
      const grant = toGrant(value)
      if (grant === null) throw new TypeError(`malformed permission: ${describe(value)}`)
      grants.push(grant)
    }
    return grants.length === 0 ? PermissionSet.EMPTY : new PermissionSet(grants)
  }

  /** Full grant: '*', 'resource:*' or 'resource:action' (':own' grants do NOT satisfy it). */
  has(permission: string): boolean {
    const asked = question(permission)
    return asked !== null && this.#grantsAll(asked)
  }

  /**
   * What a route guard or a service asks: `can('projects:write', { ownerId, userId })` is true
   * with a full grant, or with an own grant ('projects:write:own', 'projects:*:own') when
   * ownerId === userId (both non-empty). `can('projects:write:own')` (asked without a record)
   * is true with a full OR an own grant: the handler then checks ownership. A malformed
   * question is answered false.
   */
  can(permission: string, context?: { ownerId?: string | null; userId?: string | null }): boolean {
    const asked = question(permission)
    if (asked === null) return false
    if (this.#fullyGranted(asked)) return true
    if (!this.#ownGranted(asked)) return false
    // A record is in question once ownerId is given (even null: a record nobody owns).
    if (context === undefined || context.ownerId === undefined) return asked.own
    const { ownerId, userId } = context
    return typeof ownerId === 'string' && ownerId !== '' && ownerId === userId
  }

  /**
   * Every permission of `other` is granted here (escalation guard: you cannot grant what you do
   * not hold). '*' covers all; 'a:*' covers 'a:x' and 'a:x:own'; 'a:x' covers 'a:x:own';
   * 'a:x:own' does not cover 'a:x'; 'a:*:own' covers 'a:x:own' only.
   */
  covers(other: PermissionSet): boolean {
    if (this.#all || other === this) return true
    for (const grant of other.#grants) if (!this.#grantsAll(grant)) return false
    return true
  }

  /** The grants of `other` not covered here (for error messages: "missing: members:invite"). */
  missing(other: PermissionSet): string[] {
    if (this.#all) return []
    const missing: string[] = []
    for (const grant of other.#grants) if (!this.#grantsAll(grant)) missing.push(grant.text)
    return missing
  }

  /**
   * Granted by both, exact under wildcards: ('projects:*' ∩ 'projects:read') = 'projects:read';
   * ('*' ∩ X) = X; ('a:x' ∩ 'a:x:own') = 'a:x:own'; ('a:*:own' ∩ 'a:x') = 'a:x:own'.
   */
  intersect(other: PermissionSet): PermissionSet {
    if (this.#all || other === this) return other
    if (other.#all) return this
    const grants: Grant[] = []
    for (const mine of this.#grants) {
      for (const theirs of other.#grants) {
        const shared = meet(mine, theirs)
        if (shared !== null) grants.push(shared)
      }
    }
    return grants.length === 0 ? PermissionSet.EMPTY : new PermissionSet(grants)
  }

  union(other: PermissionSet): PermissionSet {
    if (this.covers(other)) return this
    if (other.covers(this)) return other
    return new PermissionSet([...this.#grants, ...other.#grants])
  }

  /**
   * The catalog names this set grants fully or as own, for "what can I do?" UIs: sorted,
   * deduplicated; a name granted only on own records is listed as 'x:y:own'. Throws TypeError on
   * a malformed catalog name (the catalog is validated at startup, so that is a bug).
   */
  expand(catalog: Iterable<string>): string[] {
    const granted = new Set<string>()
    for (const name of catalog) {
      const entry = toGrant(name)
      if (entry === null) throw new TypeError(`malformed catalog permission: ${describe(name)}`)
      if (this.#grantsAll(entry)) granted.add(entry.text)
      else if (this.#ownGranted(entry))
        granted.add(grantOf(entry.resource, entry.action, true).text)
    }
    return [...granted].sort()
  }

  /** The grants as given, normalised (covered grants dropped), sorted and deduplicated. */
  toArray(): string[] {
    return this.#grants.map((grant) => grant.text)
  }

  /** Everything `grant` allows is allowed here (an own grant is satisfied by an own grant). */
  #grantsAll(grant: Grant): boolean {
    return grant.own ? this.#ownGranted(grant) : this.#fullyGranted(grant)
  }

  /** Allowed on any record. */
  #fullyGranted(grant: Grant): boolean {
    return this.#all || this.#fullResources.has(grant.resource) || this.#full.has(grant.key)
  }

  /** Allowed at least on the caller's own records. */
  #ownGranted(grant: Grant): boolean {
    return (
      this.#fullyGranted(grant) ||
      this.#ownResources.has(grant.resource) ||
      this.#own.has(grant.key)
    )
  }

  /** Used while compiling: `grant` is implied by a strictly broader grant of this set. */
  #coveredByAnother(grant: Grant): boolean {
    if (grant.resource === WILDCARD) return false
    if (this.#all) return true
    const { resource, action, own } = grant
    if (action === WILDCARD) return own && this.#fullResources.has(resource)
    if (this.#fullResources.has(resource)) return true
    return own && (this.#full.has(grant.key) || this.#ownResources.has(resource))
  }
}

/** A malformed value for an error message: quoted, and cut so a huge input stays a short message. */
function describe(value: unknown): string {
  if (typeof value !== 'string') return `(${typeof value})`
  return JSON.stringify(value.length > 120 ? `${value.slice(0, 120)}…` : value)
}
