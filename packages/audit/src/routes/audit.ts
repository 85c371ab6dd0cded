import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { ActionRegistry } from '../actions.js'
import type { BackgroundWriter } from '../background-writer.js'
import { csvRow } from '../csv.js'
import { AuditErrors } from '../errors.js'
import { originOf } from '../request-info.js'
import type { CheckpointSigner } from '../services/checkpoints.js'
import {
  type EntryFilter,
  type PageKey,
  publicEntry,
  readPage,
  type StoredEntry,
  searchPage,
} from '../services/entries.js'
import type { Linker } from '../services/linker.js'
import { verifyChain } from '../services/verifier.js'
import { inTenant, type SqlClient, type TransactionalClient } from '../sql.js'
import type { AuditEntry } from '../types.js'
import { entrySchema, exportQuery, listQuery, verifyQuery, verifyReportSchema } from './schemas.js'

export interface AuditRoutesOptions {
  /** The export streams after its handler returned: each page is a transaction of its own. */
  prisma: TransactionalClient
  signer: CheckpointSigner | null
  linker: Linker
  exportLimit: number
  searchWindow: number
  actions: ActionRegistry
  writer: BackgroundWriter
}

/** What an export's own entry keeps: the format and the filters, so it says what left. */
const exportedMetadata = z
  .object({
    format: z.enum(['jsonl', 'csv']),
    filters: z.record(z.string(), z.string()),
  })
  .strict()

const EXPORT_PAGE = 1_000

/** The opaque cursor of the list: the recording position the next page starts below. */
const encodeCursor = (pos: string): string =>
  Buffer.from(JSON.stringify({ p: pos })).toString('base64url')

function decodeCursor(cursor: string): string {
  try {
    const parsed = z
      .object({ p: z.string().regex(/^[1-9][0-9]{0,17}$/) })
      .strict()
      .parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')))
    return parsed.p
  } catch (error) {
    throw new AuditErrors.InvalidCursor({ cause: error })
  }
}

function filterOf(query: z.output<typeof exportQuery> | z.output<typeof listQuery>): EntryFilter {
  const from = query.from ? new Date(query.from) : undefined
  const to = query.to ? new Date(query.to) : undefined
  if (from && to && from > to) throw new AuditErrors.InvalidRange()
  return {
    actorId: query.actorId,
    action: query.action,
    targetId: query.targetId,
    from,
    to,
    q: query.q,
  }
}

/** The request's tenant (the routes require one: tenancy resolved and verified it). */
function tenantOf(request: FastifyRequest): string {
  const tenant = request.tenant
  if (!tenant) throw new AuditErrors.TenantRequired()
  return tenant.id
}

const CSV_COLUMNS = [
  'seq',
  'id',
  'occurredAt',
  'action',
  'actionVersion',
  'actor',
  'targets',
  'before',
  'after',
  'changes',
  'metadata',
  'ip',
  'userAgent',
  'requestId',
  'prevHash',
  'hash',
] as const

const cellOf = (entry: AuditEntry, column: (typeof CSV_COLUMNS)[number]) => {
  const value = entry[column]
  if (value === null || typeof value === 'string' || typeof value === 'number') return value
  return JSON.stringify(value)
}

export async function auditRoutes(app: FastifyInstance, options: AuditRoutesOptions) {
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const db = (request: FastifyRequest) => request.db as unknown as SqlClient
  options.actions.define({ name: 'audit.exported', metadata: exportedMetadata })

  routes.get(
    '/audit/events',
    {
      schema: {
        tags: ['audit'],
        summary: 'List audit entries',
        description:
          'The tenant’s audit entries, newest first (in recording order), filtered by actor, ' +
          'action, target, time range and free text, one page at a time (`nextCursor`). The ' +
          'newest may not be linked into the chain yet (`seq` null). A free-text page reads ' +
          'a bounded number of entries (10,000 by default): it may hold fewer items than ' +
          '`limit`, even none, with a `nextCursor` to go on.',
        querystring: listQuery,
        response: {
          200: z.object({ items: z.array(entrySchema), nextCursor: z.string().nullable() }),
        },
      },
      config: { auth: 'required', tenant: 'required', permission: 'audit:read' },
    },
    async (request) => {
      const tenantId = tenantOf(request)
      const { limit, cursor } = request.query
      const filter = filterOf(request.query)
      const beforePos = cursor ? decodeCursor(cursor) : undefined
      const { q } = filter
      // Free text reads a bounded window per page: a short page with a cursor means "go on".
      const { items, scannedTo } = q
        ? await searchPage(
            db(request),
            tenantId,
            { ...filter, q },
            { beforePos, limit, window: options.searchWindow },
          )
        : {
            items: await readPage(
              db(request),
              tenantId,
              filter,
              { kind: 'recent', beforePos },
              limit + 1,
            ),
            scannedTo: null,
          }
      const page = items.slice(0, limit)
      const last = page.at(-1)
      const next = items.length > limit && last ? last.pos : scannedTo
      return { items: page.map(publicEntry), nextCursor: next ? encodeCursor(next) : null }
    },
  )

  routes.get(
    '/audit/verify',
    {
      schema: {
        tags: ['audit'],
        summary: 'Verify the hash chain',
        description:
          'Links the tenant’s committed entries into its chain, then recomputes the hash of every ' +
          'entry of the chain (or of `fromSeq`..`toSeq`) and reports the first entry changed, ' +
          'deleted or unlinked; `pending` counts entries committed since, not covered. Long ' +
          'chains are walked in parts: call again from `nextSeq`. Keep the `head` hash to detect ' +
          'a later removal of the newest entries.',
        querystring: verifyQuery,
        response: { 200: verifyReportSchema },
      },
      config: {
        auth: 'required',
        tenant: 'required',
        permission: 'audit:read',
        // Each call reads up to 100,000 entries.
        rateLimit: { max: 30, timeWindow: 60_000 },
      },
    },
    async (request) => {
      const tenantId = tenantOf(request)
      if (
        request.query.fromSeq !== undefined &&
        request.query.toSeq !== undefined &&
        request.query.fromSeq > request.query.toSeq
      ) {
        throw new AuditErrors.InvalidRange()
      }
      // Linking is the linker's work, in a transaction of its own (the head's lock is not held
      // for the walk); done here too so the report covers everything committed.
      await options.linker.link(tenantId)
      return verifyChain(db(request), tenantId, options.signer, request.query)
    },
  )

  routes.get(
    '/audit/export',
    {
      schema: {
        tags: ['audit'],
        summary: 'Export audit entries',
        description:
          'Every entry matching the filters, in chain order, then those not linked yet (`seq` ' +
          'null), streamed as JSON Lines (one entry per line, with `seq`, `prevHash` and `hash`: ' +
          'verify it offline as the README describes) ' +
          "or CSV (JSON columns as JSON text; cells that start like a formula are prefixed with `'`).",
        querystring: exportQuery,
        response: { 200: z.string().describe('The entries, streamed.') },
      },
      config: {
        auth: 'required',
        tenant: 'required',
        permission: 'audit:export',
        // Each export reads up to `exportLimit` rows: a few per minute is plenty.
        rateLimit: { max: 10, timeWindow: 60_000 },
      },
    },
    async (request, reply) => {
      const tenantId = tenantOf(request)
      const filter = filterOf(request.query)
      const csv = request.query.format === 'csv'
      const limit = options.exportLimit
      const { format, ...filters } = request.query
      const metadata = {
        format,
        filters: Object.fromEntries(
          Object.entries(filters).filter((field): field is [string, string] => !!field[1]),
        ),
      }
      // Recorded before the first row leaves, so the export carries its own entry.
      await options.writer.write({
        action: 'audit.exported',
        content: options.actions.check('audit.exported', { metadata }),
        targets: [],
        origin: { ...originOf(request), tenantId },
      })
      async function* lines(): AsyncGenerator<string> {
        if (csv) yield csvRow([...CSV_COLUMNS])
        // Linked first, so the export is as much of the chain as has committed.
        await options.linker.link(tenantId)
        let sent = 0
        let key: PageKey | null = { kind: 'chain', afterSeq: 0 }
        while (key && sent < limit) {
          const current: PageKey = key
          const page: StoredEntry[] = await inTenant(options.prisma, tenantId, (tx) =>
            readPage(tx, tenantId, filter, current, Math.min(EXPORT_PAGE, limit - sent)),
          )
          for (const entry of page) {
            const shown = publicEntry(entry)
            yield csv
              ? csvRow(CSV_COLUMNS.map((column) => cellOf(shown, column)))
              : `${JSON.stringify(shown)}\n`
          }
          sent += page.length
          const last = page.at(-1)
          if (last && page.length === EXPORT_PAGE) {
            key =
              current.kind === 'chain'
                ? { kind: 'chain', afterSeq: last.seq ?? 0 }
                : { kind: 'pending', afterPos: last.pos }
          } else {
            // The chain is done: then the entries committed since the link, not linked yet.
            key = current.kind === 'chain' ? { kind: 'pending' } : null
          }
        }
      }
      const stamp = new Date().toISOString().slice(0, 10)
      reply
        .header('content-type', csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header(
          'content-disposition',
          `attachment; filename="audit-${stamp}.${csv ? 'csv' : 'jsonl'}"`,
        )
        .header('cache-control', 'no-store')
      // A stream is sent as is (no serializer runs); the schema documents what it carries.
      return reply.send(Readable.from(lines()) as unknown as string)
    },
  )

  routes.get(
    '/audit/checkpoint-keys',
    {
      schema: {
        tags: ['audit'],
        summary: 'The retention checkpoints’ public keys',
        description:
          'The Ed25519 public keys that verify the signed "pruned up to" checkpoints retention ' +
          'leaves: the current one, and those retired by a rotation (404 when this deployment ' +
          'runs no retention). A checkpoint names its key by `keyId`.',
        response: {
          200: z.object({
            algorithm: z.literal('Ed25519'),
            keys: z.array(
              z.object({ keyId: z.string(), publicKeyPem: z.string(), current: z.boolean() }),
            ),
          }),
        },
      },
      config: { auth: 'required', tenant: 'required', permission: 'audit:read' },
    },
    async () => {
      if (!options.signer) throw new AuditErrors.RetentionUnavailable()
      return { algorithm: 'Ed25519' as const, keys: options.signer.publicKeys() }
    },
  )
}
