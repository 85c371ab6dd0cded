import { randomUUID } from 'node:crypto'
import type { Clock } from '@acme/core'
import type { CheckedContent } from '../actions.js'
import { contentHash, type HashedContent, type JsonValue } from '../canonical.js'
import type { Origin } from '../request-info.js'
import type { SqlClient } from '../sql.js'
import type { AuditActor, AuditTarget } from '../types.js'

/** An entry ready to append: everything but its place in the chain. */
export interface NewEntry {
  action: string
  content: CheckedContent
  targets: AuditTarget[]
  origin: Origin
}

export interface Appended {
  id: string
}

// One statement, so it is atomic even on a client that runs each statement in a transaction of its
// own (`request.db` in tenancy's statement scope), and joins the caller's transaction when there
// is one. It takes no lock: the entry's place in the chain (seq, prev_hash, hash) is left empty,
// and the linker fills it in once the entry is committed (see linker.ts). The content hash is
// computed here, from exactly what is stored (see canonical.ts). `acme_audit_append` (audit.sql)
// inserts the entry and its distinct target ids (the target filter's index) with statements
// PostgreSQL planned once per connection; sent as an execute, nothing comes back to decode.
const APPEND = `SELECT "acme_audit_append"($1::uuid, $2::uuid, $3::text, $4::int,
  $5::timestamptz, $6::text, $7::text, $8::jsonb, $9::jsonb, $10::jsonb, $11::jsonb, $12::jsonb,
  $13::jsonb, $14::text, $15::text, $16::text, $17::text)`

const json = (value: JsonValue): string | null => (value === null ? null : JSON.stringify(value))

/** The actor as stored: only the fields it has. */
function storedActor(actor: AuditActor): JsonValue {
  const stored: Record<string, JsonValue> = { type: actor.type, id: actor.id }
  if (actor.creatorId) stored.creatorId = actor.creatorId
  if (actor.sessionId) stored.sessionId = actor.sessionId
  if (actor.impersonatorId) stored.impersonatorId = actor.impersonatorId
  return stored
}

/** Records entries, to be linked into their tenant's chain. Fastify-free: the client and clock come in. */
export class Recorder {
  readonly #now: Clock

  constructor(now: Clock) {
    this.#now = now
  }

  async append(db: SqlClient, entry: NewEntry): Promise<Appended> {
    const { origin, content } = entry
    const id = randomUUID()
    const targets = entry.targets.map((target) => ({ type: target.type, id: target.id }))
    const hashed: HashedContent = {
      tenantId: origin.tenantId,
      action: entry.action,
      actionVersion: content.version,
      occurredAt: this.#now().toISOString(),
      actor: storedActor(origin.actor),
      targets,
      before: content.before,
      after: content.after,
      changes: content.changes,
      metadata: content.metadata,
      ip: origin.ip,
      userAgent: origin.userAgent,
      requestId: origin.requestId,
    }
    await db.$executeRawUnsafe(
      APPEND,
      id,
      origin.tenantId,
      hashed.action,
      hashed.actionVersion,
      hashed.occurredAt,
      origin.actor.type,
      origin.actor.id,
      json(hashed.actor),
      json(targets),
      json(hashed.before),
      json(hashed.after),
      json(hashed.changes),
      json(hashed.metadata) ?? '{}',
      hashed.ip,
      hashed.userAgent,
      hashed.requestId,
      contentHash(hashed),
    )
    return { id }
  }
}
