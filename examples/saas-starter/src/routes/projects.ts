import { paginationQuery } from '@acme/core'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'

const project = z.object({ id: z.uuid(), name: z.string(), createdAt: z.date() })

/** A list route as every list route here: bounded page size, opaque cursor, newest first. */
export async function projectRoutes(app: FastifyInstance): Promise<void> {
  app.openapi.addTag({ name: 'projects', description: "The product's own data." })
  app.withTypeProvider<ZodTypeProvider>().get(
    '/projects',
    {
      schema: {
        tags: ['projects'],
        summary: 'List projects',
        description: 'Newest first; pass `nextCursor` back as `cursor` for the next page.',
        querystring: paginationQuery.extend({ cursor: z.uuid().optional() }),
        response: {
          200: z.object({ items: z.array(project), nextCursor: z.string().nullable() }),
        },
      },
      config: { auth: 'public' },
    },
    async (request) => {
      const { limit, cursor } = request.query
      const rows = await app.prisma.project.findMany({
        take: limit + 1,
        ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      })
      const page = rows.slice(0, limit)
      return { items: page, nextCursor: rows.length > limit ? (page.at(-1)?.id ?? null) : null }
    },
  )
}
