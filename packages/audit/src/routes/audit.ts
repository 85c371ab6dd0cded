import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { csvRow } from '../csv.js'
import { AuditErrors } from '../errors.js'
import type { CheckpointSigner } from '../services/checkpoints.js'
import { type EntryFilter, readPage } from '../services/entries.js'
import { verifyChain } from '../services/verifier.js'
import { inTenant, type SqlClient, type TransactionalClient } from '../sql.js'
import type { AuditEntry } from '../types.js'
import { entrySchema, exportQuery, listQuery, verifyQuery, verifyReportSchema } from './schemas.js'

export interface AuditRoutesOptions {
  /** The export streams after its handler returned: each page is a transaction of its own. */
  prisma: TransactionalClient
  signer: CheckpointSigner | null
  exportLimit: number
}

const EXPORT_PAGE = 1_000

/** The opaque cursor of the list: the seq the next page starts below. */
const encodeCursor = (seq: number): string =>
  Buffer.from(JSON.stringify({ s: seq })).toString('base64url')

function decodeCursor(cursor: string): number {
  try {
    const parsed = z
      .object({ s: z.number().int().min(1) })
      .strict()
      .parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')))
    return parsed.s
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

  routes.get(
    '/audit/events',
    {
      schema: {
        tags: ['audit'],
        summary: 'List audit entries',
        description:
          'The tenant’s audit entries, newest first, filtered by actor, action, target, time ' +
          'range and free text, one page at a time (`nextCursor`).',
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
      const items = await readPage(db(request), tenantId, filterOf(request.query), {
        beforeSeq: cursor ? decodeCursor(cursor) : undefined,
        limit: limit + 1,
      })
      const page = items.slice(0, limit)
      const last = page.at(-1)
      return {
        items: page,
        nextCursor: items.length > limit && last ? encodeCursor(last.seq) : null,
      }
    },
  )

  routes.get(
    '/audit/verify',
    {
      schema: {
        tags: ['audit'],
        summary: 'Verify the hash chain',
        description:
          'Recomputes the hash of every entry of the tenant’s chain (or of `fromSeq`..`toSeq`) ' +
          'and reports the first entry changed, deleted or unlinked. Long chains are walked in ' +
          'parts: call again from `nextSeq`. Keep the `head` hash to detect a later removal of the ' +
          'newest entries.',
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
          'Every entry matching the filters, oldest first, streamed as JSON Lines (one entry per ' +
          'line, with `seq`, `prevHash` and `hash`: verify it offline as the README describes) ' +
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
      async function* lines(): AsyncGenerator<string> {
        if (csv) yield csvRow([...CSV_COLUMNS])
        let afterSeq = 0
        let sent = 0
        while (sent < limit) {
          const from = afterSeq
          const page = await inTenant(options.prisma, tenantId, (tx) =>
            readPage(
              tx,
              tenantId,
              filter,
              { afterSeq: from, limit: Math.min(EXPORT_PAGE, limit - sent) },
              'asc',
            ),
          )
          for (const entry of page) {
            yield csv
              ? csvRow(CSV_COLUMNS.map((column) => cellOf(entry, column)))
              : `${JSON.stringify(entry)}\n`
          }
          sent += page.length
          const last = page.at(-1)
          if (!last || page.length < EXPORT_PAGE) return
          afterSeq = last.seq
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
