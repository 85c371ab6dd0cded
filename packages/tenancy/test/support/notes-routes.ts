import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { PrismaClient } from '../../src/generated/prisma/client.js'
import { TenancyErrors, type TenantScopedClient } from '../../src/index.js'

declare module '@acme/core' {
  interface AcmeRegister {
    prisma: PrismaClient
  }
}

const tenantOf = (request: FastifyRequest): string => request.tenant?.id ?? ''

const note = z.object({ id: z.uuid(), tenantId: z.uuid(), title: z.string() })
const idParams = z.object({ id: z.uuid() }).strict()

/** A tenant-owned resource written the way an app would: only through `request.db`. */
export async function notesRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>()
  // No rbac in these tests, so no permission to declare: the routes open themselves to keys.
  const config = { auth: 'required', tenant: 'required', apiKeys: 'allow' } as const

  routes.get(
    '/notes',
    { schema: { tags: ['notes'], response: { 200: z.object({ items: z.array(note) }) } }, config },
    async (request) => ({
      items: await request.db.note.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
    }),
  )

  routes.post(
    '/notes',
    {
      schema: {
        tags: ['notes'],
        // A permissive body on purpose: the scoped client must ignore a smuggled tenant id.
        body: z.object({ title: z.string().min(1).max(200), tenantId: z.uuid().optional() }),
        response: { 201: note },
      },
      config,
    },
    async (request, reply) =>
      reply.code(201).send(
        await request.db.note.create({
          // The generated type asks for the tenant id; the scoped client overwrites it anyway.
          data: { title: request.body.title, tenantId: request.body.tenantId ?? tenantOf(request) },
        }),
      ),
  )

  routes.get(
    '/notes/:id',
    { schema: { tags: ['notes'], params: idParams, response: { 200: note } }, config },
    async (request) => {
      const found = await request.db.note.findUnique({ where: { id: request.params.id } })
      if (!found) throw new TenancyErrors.NotFound()
      return found
    },
  )

  routes.patch(
    '/notes/:id',
    {
      schema: {
        tags: ['notes'],
        params: idParams,
        body: z.object({ title: z.string().min(1).max(200) }).strict(),
        response: { 200: note },
      },
      config,
    },
    async (request) =>
      request.db.note.update({ where: { id: request.params.id }, data: request.body }),
  )

  routes.delete(
    '/notes/:id',
    { schema: { tags: ['notes'], params: idParams, response: { 204: z.null() } }, config },
    async (request, reply) => {
      await request.db.note.delete({ where: { id: request.params.id } })
      return reply.code(204).send(null)
    },
  )

  routes.get(
    '/notes-raw',
    {
      schema: { tags: ['notes'], response: { 200: z.object({ titles: z.array(z.string()) }) } },
      config,
    },
    async (request) => {
      const rows = await request.db.$queryRaw<
        Array<{ title: string }>
      >`SELECT title FROM notes ORDER BY title`
      return { titles: rows.map((row) => row.title) }
    },
  )

  routes.post(
    '/notes/batch',
    {
      schema: {
        tags: ['notes'],
        body: z
          .object({ titles: z.array(z.string()), failAfter: z.number().int().optional() })
          .strict(),
        response: { 201: z.object({ count: z.number() }) },
      },
      config,
    },
    async (request, reply) => {
      const { titles, failAfter } = request.body
      const count = await request.db.$transaction(async (tx: TenantScopedClient) => {
        let written = 0
        for (const title of titles) {
          if (failAfter !== undefined && written === failAfter) throw new Error('fail midway')
          await tx.note.create({ data: { title, tenantId: tenantOf(request) } })
          written += 1
        }
        return written
      })
      return reply.code(201).send({ count })
    },
  )

  routes.get(
    '/tenant-setting',
    {
      schema: { tags: ['notes'], response: { 200: z.object({ setting: z.string().nullable() }) } },
      config,
    },
    async (request) => {
      const rows = await request.db.$queryRaw<
        Array<{ setting: string | null }>
      >`SELECT current_setting('app.tenant_id', true) AS setting`
      return { setting: rows[0]?.setting ?? null }
    },
  )

  routes.get(
    '/no-tenant-db',
    { schema: { tags: ['notes'] }, config: { auth: 'required' } },
    async (request) => ({ count: await request.db.note.count() }),
  )
}
