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

// One INSERT, so it is atomic even on a client that runs each statement in a transaction of its
// own (`request.db` in tenancy's statement scope), and joins the caller's transaction when there
// is one. It takes no lock: the entry's place in the chain (seq, prev_hash, hash) is left empty,
// and the linker fills it in once the entry is committed (see linker.ts). The content hash is
// computed here, from exactly what is stored (see canonical.ts).
// The entry's target ids go to `audit_event_targets` in the same statement (the target filter's
// index), distinct per entry.
const APPEND = `
WITH entry AS (
  INSERT INTO "audit_events" (
    "id", "tenant_id", "action", "action_version", "occurred_at", "actor_type", "actor_id",
    "actor", "targets", "before", "after", "changes", "metadata", "ip", "user_agent",
    "request_id", "content_hash")
  VALUES ($1::uuid, $2::uuid, $3::text, $4::int, $5::timestamptz, $6::text, $7::text,
    $8::jsonb, $9::jsonb, $11::jsonb, $12::jsonb, $13::jsonb, $14::jsonb, $15::text,
    $16::text, $17::text, $18::text)
  RETURNING "tenant_id", "pos"
)
INSERT INTO "audit_event_targets" ("tenant_id", "target_id", "pos")
SELECT DISTINCT entry."tenant_id", target."id", entry."pos"
FROM entry, jsonb_array_elements_text($10::jsonb) AS target("id")`

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
    await db.$queryRawUnsafe(
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
      JSON.stringify(targets.map((target) => target.id)),
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
