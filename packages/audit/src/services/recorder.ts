import { randomUUID } from 'node:crypto'
import type { Clock } from '@acme/core'
import type { CheckedContent } from '../actions.js'
import { contentHash, GENESIS_HASH, type HashedContent, type JsonValue } from '../canonical.js'
import type { Origin } from '../request-info.js'
import { chainKeyOf, type SqlClient } from '../sql.js'
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
  seq: number
  hash: string
}

// One statement, so it is atomic even on a client that runs each statement in a transaction of
// its own (`request.db` in tenancy's statement scope), and joins the caller's transaction when
// there is one. The head row is the lock: `ON CONFLICT DO UPDATE` waits for a concurrent writer
// of the same chain to commit and then reads its new tip, so seqs follow commit order with no gap
// or fork. PostgreSQL computes the chain hash there, from the tip it locked; the content hash
// comes from here (see canonical.ts for both formulas).
const APPEND = `
WITH head AS (
  INSERT INTO "audit_chain_heads" AS h ("chain_key", "tenant_id", "seq", "hash", "prev_hash", "updated_at")
  VALUES ($1, $2::uuid, 1,
          encode(sha256(convert_to($3::text || '|1|' || $4::text, 'UTF8')), 'hex'),
          $3::text, now())
  ON CONFLICT ("chain_key") DO UPDATE SET
    "seq" = h."seq" + 1,
    "prev_hash" = h."hash",
    "hash" = encode(sha256(convert_to(h."hash" || '|' || (h."seq" + 1)::text || '|' || $4::text, 'UTF8')), 'hex'),
    "updated_at" = now()
  RETURNING "seq", "prev_hash", "hash"
)
INSERT INTO "audit_events" (
  "id", "tenant_id", "seq", "action", "action_version", "occurred_at", "actor_type", "actor_id",
  "actor", "targets", "target_ids", "before", "after", "changes", "metadata", "ip", "user_agent",
  "request_id", "prev_hash", "hash")
SELECT $5::uuid, $2::uuid, head."seq", $6::text, $7::int, $8::timestamptz, $9::text, $10::text,
  $11::jsonb, $12::jsonb, ARRAY(SELECT jsonb_array_elements_text($13::jsonb)), $14::jsonb,
  $15::jsonb, $16::jsonb, $17::jsonb, $18::text, $19::text, $20::text, head."prev_hash", head."hash"
FROM head
RETURNING "seq", "hash"`

const json = (value: JsonValue): string | null => (value === null ? null : JSON.stringify(value))

/** The actor as stored: only the fields it has. */
function storedActor(actor: AuditActor): JsonValue {
  const stored: Record<string, JsonValue> = { type: actor.type, id: actor.id }
  if (actor.creatorId) stored.creatorId = actor.creatorId
  if (actor.sessionId) stored.sessionId = actor.sessionId
  if (actor.impersonatorId) stored.impersonatorId = actor.impersonatorId
  return stored
}

/** Appends entries to their tenant's chain. Fastify-free: the client and clock come in. */
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
    const rows = await db.$queryRawUnsafe<Array<{ seq: number; hash: string }>>(
      APPEND,
      chainKeyOf(origin.tenantId),
      origin.tenantId,
      GENESIS_HASH,
      contentHash(hashed),
      id,
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
    )
    const row = rows[0]
    if (!row) throw new Error('audit: the entry was not appended')
    return { id, seq: Number(row.seq), hash: row.hash }
  }
}
