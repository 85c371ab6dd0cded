import type {} from '@acme/auth'
import type { z } from 'zod'
import type { JsonValue } from './canonical.js'
import type { SqlClient } from './sql.js'

/**
 * Actions the app records with `app.audit.record`, each with the type of its metadata:
 * `declare module '@acme/audit' { interface AuditActions { 'project.renamed': { from: string } } }`
 * and `app.audit.defineAction({ name: 'project.renamed', metadata: z.object({ from: z.string() }) })`.
 */
export interface AuditActions {}

export type AuditActionName = keyof AuditActions & string

/** Who acted. An API key carries the user who created it; an impersonating admin is kept too. */
export interface AuditActor {
  type: 'user' | 'api_key' | 'system' | 'anonymous'
  /** The user id, the API key id, or the job's name; null for an anonymous caller. */
  id: string | null
  /** API keys: the user who created the key. */
  creatorId?: string
  /** Users: the session the request came from. */
  sessionId?: string
  /** An admin acting as the user (principal field `impersonatorId`), so the chain is on record. */
  impersonatorId?: string
}

export interface AuditTarget {
  type: string
  id: string
}

/** What `defineAction` takes. */
export interface AuditActionDefinition<M extends z.ZodType, S extends z.ZodType> {
  name: string
  /** Bumped when the metadata's shape changes; stored with every entry. Default 1. */
  version?: number
  metadata: M
  /**
   * For configuration changes: the schema of the configuration. `before` and `after` are then
   * required, stored parsed by it with every field marked `.meta({ secret: true })` replaced by
   * `"[REDACTED]"`, and the entry gets a field diff (`changes`).
   */
  state?: S
}

export interface AuditRecordInput<K extends AuditActionName> {
  action: K
  metadata: AuditActions[K]
  targets?: AuditTarget[]
  before?: unknown
  after?: unknown
  /** Default: the request's tenant; `null` writes to the app's own chain. */
  tenantId?: string | null
  /** Default: the request's caller (outside a request: `{ type: 'system', id: 'app' }`). */
  actor?: AuditActor
}

/**
 * An entry as stored, read and exported: everything its hash covers, and the chain fields, null
 * until the entry is linked into its chain (shortly after it commits).
 */
export interface AuditEntry {
  id: string
  tenantId: string | null
  seq: number | null
  action: string
  actionVersion: number
  occurredAt: string
  actor: JsonValue
  targets: JsonValue
  before: JsonValue
  after: JsonValue
  changes: JsonValue
  metadata: JsonValue
  ip: string | null
  userAgent: string | null
  requestId: string | null
  prevHash: string | null
  hash: string | null
}

export type VerifyProblemKind =
  | 'altered'
  | 'missing'
  | 'broken_link'
  | 'checkpoint_invalid'
  | 'truncated'

export interface VerifyReport {
  valid: boolean
  /** Entries whose hashes were recomputed. */
  checked: number
  fromSeq: number | null
  toSeq: number | null
  /** Where the next call continues when this one stopped at its limit; null when done. */
  nextSeq: number | null
  /** The chain's tip as stored: keep its hash to detect a later removal of recent entries. */
  head: { seq: number; hash: string } | null
  checkpoint: { seq: number; hash: string; prunedAt: string; keyId: string } | null
  /**
   * Entries recorded but not linked into the chain yet (verify links every committed entry
   * first, so these are entries committed since): not covered by this report.
   */
  pending: number
  /** The first problem found, in chain order. */
  problem: { kind: VerifyProblemKind; seq: number; entryId: string | null; message: string } | null
}

/** `app.audit`. */
export interface AuditServices {
  /** Declares an action `record` accepts, with its metadata schema and version. */
  defineAction<M extends z.ZodType, S extends z.ZodType>(
    definition: AuditActionDefinition<M, S>,
  ): void
  /**
   * Appends an entry in `db`'s transaction (`request.db`, or the client of your own
   * `$transaction`), so it commits or rolls back with your change. Actor, IP, user agent, request
   * id and tenant come from the current request.
   */
  record<K extends AuditActionName>(
    db: SqlClient,
    input: AuditRecordInput<K>,
  ): Promise<{ id: string }>
  /** The same in a transaction of its own (jobs, scripts, reactions to events). */
  recordNow<K extends AuditActionName>(input: AuditRecordInput<K>): Promise<{ id: string }>
  /**
   * Links the chain's committed entries now (`null`: the app's own), as the background linker
   * does shortly after each commit; the number linked.
   */
  link(tenantId: string | null): Promise<number>
  /**
   * Links the chain's committed entries, then recomputes the chain (`null`: the app's own) and
   * reports the first broken link.
   */
  verify(
    tenantId: string | null,
    range?: { fromSeq?: number; toSeq?: number; limit?: number },
  ): Promise<VerifyReport>
  /** Runs the retention purge now, as the scheduled job does. */
  purge(): Promise<{ chains: number; deleted: number }>
}

declare module 'fastify' {
  interface FastifyInstance {
    readonly audit: AuditServices
  }
  interface FastifyContextConfig {
    /** `'read'`: each successful call of this route with a tenant is recorded (`data.read`). */
    audit?: 'read'
  }
}

declare module '@acme/core' {
  interface AcmeJobs {
    /** The retention purge (see the README, "Retention"); `{}` runs it now. */
    'audit.retention': Record<string, never>
  }
}
