import type { JsonValue } from '../canonical.js'
import type { SqlClient } from '../sql.js'
import type { AuditEntry } from '../types.js'

/**
 * The columns of an entry, JSON read as text and parsed here, so what verify and export see is
 * exactly the stored JSON value (never a driver's interpretation of it).
 */
export const ENTRY_COLUMNS = `"id"::text AS "id", "tenant_id"::text AS "tenantId",
  "pos"::text AS "pos", "seq",
  "action", "action_version" AS "actionVersion", "occurred_at" AS "occurredAt",
  "actor"::text AS "actor", "targets"::text AS "targets", "before"::text AS "before",
  "after"::text AS "after", "changes"::text AS "changes", "metadata"::text AS "metadata",
  "ip", "user_agent" AS "userAgent", "request_id" AS "requestId",
  "prev_hash" AS "prevHash", "hash"`

export interface EntryRow {
  id: string
  tenantId: string | null
  pos: string
  seq: number | null
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
  prevHash: string | null
  hash: string | null
}

/** An entry as read, with its recording position (the list's cursor). */
export interface StoredEntry extends AuditEntry {
  pos: string
}

const parse = (text: string | null): JsonValue =>
  text === null ? null : (JSON.parse(text) as JsonValue)

/** The entry as the API shows it, without its recording position. */
export function publicEntry({ pos: _pos, ...entry }: StoredEntry): AuditEntry {
  return entry
}

export function toEntry(row: EntryRow): StoredEntry {
  return {
    id: row.id,
    tenantId: row.tenantId,
    pos: row.pos,
    seq: row.seq === null ? null : Number(row.seq),
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
 * Which entries a page holds, and in what order:
 * - `recent`: all, newest first (recording order), before the `beforePos` cursor: the list;
 * - `chain`: the linked ones in chain order after `afterSeq`: verify, and exports;
 * - `pending`: the ones not linked yet, in recording order after `afterPos`: the end of exports.
 * Each is keyset pagination on an index, so a page costs the same however deep.
 */
export type PageKey =
  | { kind: 'recent'; beforePos?: string | undefined }
  | { kind: 'chain'; afterSeq: number }
  | { kind: 'pending'; afterPos?: string | undefined }

interface Conditions {
  values: unknown[]
  where: string[]
  order: string
}

/** The WHERE and ORDER BY of a page (every value a parameter), free text aside. */
function conditionsOf(
  tenantId: string | null,
  filter: Omit<EntryFilter, 'q'>,
  key: PageKey,
): Conditions & { add: (clause: (placeholder: string) => string, value: unknown) => void } {
  const values: unknown[] = []
  const where: string[] = []
  const add = (clause: (placeholder: string) => string, value: unknown) => {
    values.push(value)
    where.push(clause(`$${values.length}`))
  }
  // Spelled out (not IS NOT DISTINCT FROM) so the indexes on (tenant_id, ...) serve it.
  if (tenantId === null) where.push('"tenant_id" IS NULL')
  else add((p) => `"tenant_id" = ${p}::uuid`, tenantId)
  let order: string
  if (key.kind === 'recent') {
    if (key.beforePos !== undefined) add((p) => `"pos" < ${p}::bigint`, key.beforePos)
    // Qualified: a bare "pos" would name the output column, the text.
    order = '"audit_events"."pos" DESC'
  } else if (key.kind === 'chain') {
    add((p) => `"seq" > ${p}::int`, key.afterSeq)
    order = '"seq" ASC'
  } else {
    where.push('"seq" IS NULL')
    if (key.afterPos !== undefined) add((p) => `"pos" > ${p}::bigint`, key.afterPos)
    order = '"audit_events"."pos" ASC'
  }
  if (filter.actorId) add((p) => `"actor_id" = ${p}::text`, filter.actorId)
  if (filter.action) add((p) => `"action" = ${p}::text`, filter.action)
  if (filter.targetId) {
    // The targets table's (tenant_id, target_id, pos) index: the target's entries directly.
    add(
      (p) =>
        `"pos" IN (SELECT t."pos" FROM "audit_event_targets" t WHERE ${
          tenantId === null ? 't."tenant_id" IS NULL' : 't."tenant_id" = $1::uuid'
        } AND t."target_id" = ${p}::text)`,
      filter.targetId,
    )
  }
  if (filter.from) add((p) => `"occurred_at" >= ${p}::timestamptz`, filter.from.toISOString())
  if (filter.to) add((p) => `"occurred_at" < ${p}::timestamptz`, filter.to.toISOString())
  return { values, where, order, add }
}

const textMatch = (p: string) =>
  `("action" ILIKE ${p} OR "actor"::text ILIKE ${p} OR "targets"::text ILIKE ${p} OR "metadata"::text ILIKE ${p})`

/** One page of a tenant's entries; `db` must be in the tenant. */
export async function readPage(
  db: SqlClient,
  tenantId: string | null,
  filter: EntryFilter,
  key: PageKey,
  limit: number,
): Promise<StoredEntry[]> {
  const { values, where, order, add } = conditionsOf(tenantId, filter, key)
  if (filter.q) add(textMatch, likePattern(filter.q))
  values.push(limit)
  const rows = await db.$queryRawUnsafe<EntryRow[]>(
    `SELECT ${ENTRY_COLUMNS} FROM "audit_events" WHERE ${where.join(' AND ')}
     ORDER BY ${order} LIMIT $${values.length}::int`,
    ...values,
  )
  return rows.map(toEntry)
}

export interface SearchPage {
  /** Up to `limit + 1` matches, newest first (one more than asked: there are more). */
  items: StoredEntry[]
  /** Where the scan stopped short of the tenant's oldest entry: the next page starts below. */
  scannedTo: string | null
}

/**
 * A page of the list with free text: of the newest `window` entries below the cursor that match
 * the other filters (through their indexes), those whose text matches. Free text has no index (a
 * substring of JSON text): bounding the scan keeps every page's cost the same on any tenant, and
 * the cursor carries the search on.
 */
export async function searchPage(
  db: SqlClient,
  tenantId: string | null,
  filter: EntryFilter & { q: string },
  page: { beforePos: string | undefined; limit: number; window: number },
): Promise<SearchPage> {
  const { beforePos, limit } = page
  const { values, where, order } = conditionsOf(tenantId, filter, { kind: 'recent', beforePos })
  values.push(likePattern(filter.q))
  const text = `$${values.length}`
  values.push(page.window)
  const window = `$${values.length}::int`
  values.push(limit + 2)
  // The window's last row comes back too (hit or not), to say where the scan stopped; the
  // subquery's order carries through, so the outer LIMIT stops the scan at the page's end.
  const rows = await db.$queryRawUnsafe<Array<EntryRow & { hit: boolean; rn: bigint | number }>>(
    `SELECT * FROM (
       SELECT ${ENTRY_COLUMNS}, "audit_events"."pos" AS "sortPos", ${textMatch(text)} AS "hit",
         row_number() OVER (ORDER BY ${order}) AS "rn"
       FROM "audit_events" WHERE ${where.join(' AND ')}
       ORDER BY ${order} LIMIT ${window}
     ) AS "scanned"
     WHERE "hit" OR "rn" = ${window}
     ORDER BY "sortPos" DESC LIMIT $${values.length}::int`,
    ...values,
  )
  const items: StoredEntry[] = []
  let scannedTo: string | null = null
  for (const { hit, rn, sortPos: _sortPos, ...row } of rows as Array<
    EntryRow & { hit: boolean; rn: bigint | number; sortPos?: unknown }
  >) {
    if (hit && items.length <= limit) items.push(toEntry(row))
    if (Number(rn) === page.window) scannedTo = row.pos
  }
  return { items, scannedTo: items.length > limit ? null : scannedTo }
}

/** How many of the chain's entries are recorded but not linked yet (the partial index). */
export async function countPending(db: SqlClient, tenantId: string | null): Promise<number> {
  const rows = await db.$queryRawUnsafe<Array<{ pending: number }>>(
    `SELECT count(*)::int AS "pending" FROM "audit_events"
     WHERE ${tenantId === null ? '"tenant_id" IS NULL AND $1::uuid IS NULL' : '"tenant_id" = $1::uuid'}
       AND "seq" IS NULL`,
    tenantId,
  )
  return Number(rows[0]?.pending ?? 0)
}
