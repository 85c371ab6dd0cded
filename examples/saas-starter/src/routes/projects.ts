import { paginationQuery, safeString } from '@acme/core'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'

declare module '@acme/audit' {
  interface AuditActions {
    'project.created': { name: string }
  }
}

declare module '@acme/webhooks' {
  interface WebhookEventTypes {
    'project.created': { id: string; name: string }
  }
}

const project = z.object({ id: z.uuid(), name: z.string(), createdAt: z.date() })
const tenantScoped = { auth: 'required', tenant: 'required' } as const

/**
 * The product's own tenant data, read and written only through `request.db`: scoped to the
 * request's tenant by the client and, underneath, by row-level security.
 */
export async function projectRoutes(app: FastifyInstance): Promise<void> {
  app.openapi.addTag({ name: 'projects', description: "The product's own data." })
  const routes = app.withTypeProvider<ZodTypeProvider>()
  app.audit.defineAction({
    name: 'project.created',
    metadata: z.object({ name: z.string() }).strict(),
  })
  app.webhooks.defineEventType({
    name: 'project.created',
    description: 'A project was created in the tenant.',
    schema: z.object({ id: z.uuid(), name: z.string() }),
  })

  // A list route as every list route here: bounded page size, opaque cursor, newest first.
  routes.get(
    '/projects',
    {
      schema: {
        tags: ['projects'],
        summary: 'List projects',
        description:
          "The tenant's projects, newest first; pass `nextCursor` back as `cursor` for the next page.",
        querystring: paginationQuery.extend({ cursor: z.uuid().optional() }),
        response: {
          200: z.object({ items: z.array(project), nextCursor: z.string().nullable() }),
        },
      },
      config: { ...tenantScoped, permission: 'projects:read' },
    },
    async (request) => {
      const { limit, cursor } = request.query
      const rows = await request.db.project.findMany({
        take: limit + 1,
        ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        select: { id: true, name: true, createdAt: true },
      })
      const page = rows.slice(0, limit)
      return { items: page, nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null }
    },
  )

  routes.post(
    '/projects',
    {
      schema: {
        tags: ['projects'],
        summary: 'Create a project',
        description: 'Created in the request’s tenant.',
        body: z.object({ name: safeString().trim().min(1).max(100) }).strict(),
        response: { 201: project },
      },
      config: { ...tenantScoped, permission: 'projects:write' },
    },
    async (request, reply) => {
      // The project, its audit entry and its webhook event commit together, or none does.
      const created = await request.db.$transaction(async (tx) => {
        const row = await tx.project.create({
          // The tenant id is set by the scoped client; the generated type still asks for it.
          data: { name: request.body.name, tenantId: request.tenant?.id ?? '' },
          select: { id: true, name: true, createdAt: true },
        })
        await app.audit.record(tx, {
          action: 'project.created',
          targets: [{ type: 'project', id: row.id }],
          metadata: { name: row.name },
        })
        // Written to the outbox in this transaction: delivered once it commits, never if not.
        await app.webhooks.send(tx, request.tenant?.id ?? '', 'project.created', {
          id: row.id,
          name: row.name,
        })
        return row
      })
      return reply.code(201).send(created)
    },
  )
}
