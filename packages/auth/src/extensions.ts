import type { z } from 'zod'
import type { Principal } from './types.js'

/** Why an access token is being issued. */
export type AccessIssueReason = 'login' | 'refresh' | 'reissue'

/** The session an access token is issued for. */
export interface SessionSubject {
  sessionId: string
  userId: string
}

/** What a principal was built from: a verified access token, or an API key's stored row. */
export type PrincipalSource =
  | { type: 'token'; claims: Readonly<Record<string, unknown>> }
  | { type: 'apiKey'; columns: Readonly<Record<string, unknown>> }

/**
 * What a plugin building on auth adds to it, declared once before `ready()` (e.g. @acme/tenancy's
 * `tid` claim and the tenant an API key is bound to). Auth stores and carries these values
 * without knowing what they mean.
 */
export interface AuthExtension {
  /** Names the extension in error messages. */
  name: string
  /**
   * Claims this extension adds to access tokens, each with the schema a verified token's value
   * must match: a token whose value fails it is refused like any invalid token. Claims no
   * extension declares are dropped at verification.
   */
  claims?: Record<string, z.ZodType>
  /**
   * The values of this extension's claims for the next access token of a session, read when it
   * is issued (login, refresh, or `sessions.reissue`). A null or absent value leaves the claim out.
   */
  tokenClaims?(
    subject: SessionSubject,
    reason: AccessIssueReason,
  ): Promise<Record<string, unknown>> | Record<string, unknown>
  /**
   * Columns this extension adds to `ApiKey` (an `extend model` block of its fragment): accepted
   * by `apiKeys.create(..., { columns })` and handed back to `enrichPrincipal` when the key is used.
   */
  apiKeyColumns?: readonly string[]
  /**
   * Sets the principal fields this extension declares (by augmenting `UserPrincipal` and
   * `ApiKeyPrincipal`). Runs on every authenticated request: keep it synchronous and free of I/O.
   */
  enrichPrincipal?(principal: Principal, source: PrincipalSource): void
}

/** Registered claims a JWT library or auth itself sets: no extension may claim them. */
const RESERVED_CLAIMS = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'sid', 'scope'])
/** Auth's own ApiKey fields: an extension column must not shadow one (nor `keyHash`, above all). */
const RESERVED_COLUMNS = new Set([
  'id',
  'ownerId',
  'owner',
  'name',
  'prefix',
  'keyHash',
  'scopes',
  'expiresAt',
  'lastUsedAt',
  'revokedAt',
  'createdAt',
])
const IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,63}$/

/** The extensions registered with `app.auth.extend`, and what auth asks of them. */
export class AuthExtensions {
  readonly #extensions: AuthExtension[] = []
  readonly #claims = new Map<string, { schema: z.ZodType; owner: string }>()
  readonly #columns = new Map<string, string>()
  readonly #enrichers: Array<NonNullable<AuthExtension['enrichPrincipal']>> = []
  #sealed = false

  /** Throws (a programming error, at registration) on a reserved or already claimed name. */
  add(extension: AuthExtension): void {
    const { name } = extension
    if (this.#sealed) throw new Error(`@acme/auth: ${name} must call auth.extend() before ready()`)
    for (const [claim, schema] of Object.entries(extension.claims ?? {})) {
      this.#assertFree(name, 'claim', claim, RESERVED_CLAIMS, this.#claims.get(claim)?.owner)
      this.#claims.set(claim, { schema, owner: name })
    }
    for (const column of extension.apiKeyColumns ?? []) {
      this.#assertFree(name, 'API key column', column, RESERVED_COLUMNS, this.#columns.get(column))
      this.#columns.set(column, name)
    }
    if (extension.enrichPrincipal) this.#enrichers.push(extension.enrichPrincipal)
    this.#extensions.push(extension)
  }

  /** Called at ready: what was declared is what every request sees. */
  seal(): void {
    this.#sealed = true
  }

  /** The declared claims and their schemas, for token verification. */
  claimSchemas(): ReadonlyMap<string, { schema: z.ZodType }> {
    return this.#claims
  }

  apiKeyColumns(): readonly string[] {
    return [...this.#columns.keys()]
  }

  /** Every extension's claims for a session's next access token; absent and null values left out. */
  async claimsFor(
    subject: SessionSubject,
    reason: AccessIssueReason,
  ): Promise<Record<string, unknown>> {
    const claims: Record<string, unknown> = {}
    for (const extension of this.#extensions) {
      if (!extension.tokenClaims) continue
      const values = await extension.tokenClaims(subject, reason)
      for (const [claim, value] of Object.entries(values)) {
        if (this.#claims.get(claim)?.owner !== extension.name) {
          throw new Error(`@acme/auth: ${extension.name} set claim "${claim}" it did not declare`)
        }
        if (value !== null && value !== undefined) claims[claim] = value
      }
    }
    return claims
  }

  get enrichesPrincipals(): boolean {
    return this.#enrichers.length > 0
  }

  enrich(principal: Principal, source: PrincipalSource): void {
    for (const enrich of this.#enrichers) enrich(principal, source)
  }

  #assertFree(
    extension: string,
    kind: string,
    name: string,
    reserved: ReadonlySet<string>,
    owner: string | undefined,
  ): void {
    if (!IDENTIFIER.test(name) || reserved.has(name)) {
      throw new Error(`@acme/auth: ${extension} may not declare the ${kind} "${name}"`)
    }
    if (owner !== undefined) {
      throw new Error(`@acme/auth: ${extension} declares the ${kind} "${name}", already ${owner}'s`)
    }
  }
}
