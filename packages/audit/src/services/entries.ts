import type { JsonValue } from '../canonical.js'
import type { SqlClient } from '../sql.js'
import type { AuditEntry } from '../types.js'

/**
 * The columns of an entry, JSON read as text and parsed here, so what verify and export see is
 * exactly the stored JSON value (never a driver's interpretation of it).
 */
export const ENTRY_COLUMNS = `"id"::text AS "id", "tenant_id"::text AS "tenantId", "seq",
  "action", "action_version" AS "actionVersion", "occurred_at" AS "occurredAt",
  "actor"::text AS "actor", "targets"::text AS "targets", "before"::text AS "before",
  "after"::text AS "after", "changes"::text AS "changes", "metadata"::text AS "metadata",
  "ip", "user_agent" AS "userAgent", "request_id" AS "requestId",
  "prev_hash" AS "prevHash", "hash"`

export interface EntryRow {
  id: string
  tenantId: string | null
  seq: number
  action: string
  actionVersion: number
  occurredAt: Date | string
  actor: string
  targets: string
  before: string | null
  after: string | null
  changes: string | null
  metadata: string
  ip: string | null
  userAgent: string | null
  requestId: string | null
  prevHash: string
  hash: string
}

const parse = (text: string | null): JsonValue =>
  text === null ? null : (JSON.parse(text) as JsonValue)

export function toEntry(row: EntryRow): AuditEntry {
  return {
    id: row.id,
    tenantId: row.tenantId,
    seq: Number(row.seq),
    action: row.action,
    actionVersion: Number(row.actionVersion),
    occurredAt: new Date(row.occurredAt).toISOString(),
    actor: parse(row.actor),
    targets: parse(row.targets),
    before: parse(row.before),
    after: parse(row.after),
    changes: parse(row.changes),
    metadata: parse(row.metadata),
    ip: row.ip,
    userAgent: row.userAgent,
    requestId: row.requestId,
    prevHash: row.prevHash,
    hash: row.hash,
  }
}

/** Filters of the list and the export; every value goes to PostgreSQL as a parameter. */
export interface EntryFilter {
  actorId?: string | undefined
  action?: string | undefined
  targetId?: string | undefined
  from?: Date | undefined
  to?: Date | undefined
  /** Free text: case-insensitive substring of the action, actor, targets or metadata. */
  q?: string | undefined
}

const likePattern = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/**
 * One page of a tenant's entries, newest first, after `beforeSeq` (keyset pagination on the
 * `(tenant_id, seq)` index: constant cost per page however deep).
 */
export async function readPage(
  db: SqlClient,
  tenantId: string | null,
  filter: EntryFilter,
  page: { beforeSeq?: number | undefined; afterSeq?: number | undefined; limit: number },
  order: 'asc' | 'desc' = 'desc',
): Promise<AuditEntry[]> {
  const values: unknown[] = []
  const where: string[] = []
  const add = (clause: (placeholder: string) => string, value: unknown) => {
    values.push(value)
    where.push(clause(`$${values.length}`))
  }
  // Spelled out (not IS NOT DISTINCT FROM) so the (tenant_id, seq) index serves it.
  if (tenantId === null) where.push('"tenant_id" IS NULL')
  else add((p) => `"tenant_id" = ${p}::uuid`, tenantId)
  if (page.beforeSeq !== undefined) add((p) => `"seq" < ${p}::int`, page.beforeSeq)
  if (page.afterSeq !== undefined) add((p) => `"seq" > ${p}::int`, page.afterSeq)
  if (filter.actorId) add((p) => `"actor_id" = ${p}::text`, filter.actorId)
  if (filter.action) add((p) => `"action" = ${p}::text`, filter.action)
  if (filter.targetId) add((p) => `"target_ids" @> ARRAY[${p}::text]`, filter.targetId)
  if (filter.from) add((p) => `"occurred_at" >= ${p}::timestamptz`, filter.from.toISOString())
  if (filter.to) add((p) => `"occurred_at" < ${p}::timestamptz`, filter.to.toISOString())
  if (filter.q) {
    add(
      (p) =>
        `("action" ILIKE ${p} OR "actor"::text ILIKE ${p} OR "targets"::text ILIKE ${p} OR "metadata"::text ILIKE ${p})`,
      likePattern(filter.q),
    )
  }
  values.push(page.limit)
  const rows = await db.$queryRawUnsafe<EntryRow[]>(
    `SELECT ${ENTRY_COLUMNS} FROM "audit_events" WHERE ${where.join(' AND ')}
     ORDER BY "seq" ${order === 'asc' ? 'ASC' : 'DESC'} LIMIT $${values.length}::int`,
    ...values,
  )
  return rows.map(toEntry)
}
