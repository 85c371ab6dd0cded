import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { PrismaClient } from '../../src/generated/prisma/client.js'
import '../../src/index.js'

declare module '@acme/core' {
  interface AcmeRegister {
    prisma: PrismaClient
  }
}

declare module '../../src/types.js' {
  interface AuditActions {
    'project.created': { name: string }
    'project.configured': Record<string, never>
  }
}

/** A project's configuration: the webhook secret must never reach the audit log. */
export const projectSettings = z
  .object({
    color: z.string().default('grey'),
    webhook: z
      .object({
        url: z.string(),
        secret: z.string().meta({ secret: true }),
      })
      .optional(),
  })
  .strict()

const project = z.object({ id: z.uuid(), name: z.string() })

/** A tenant-owned resource whose writes are audited in their own transaction. */
export async function projectRoutes(app: FastifyInstance) {
  app.permissions.declare('app', [
    {
      name: 'projects:write',
      description: 'Create and configure projects.',
      grant: { admin: true, member: true },
    },
  ])
  app.audit.defineAction({
    name: 'project.created',
    metadata: z.object({ name: z.string() }).strict(),
  })
  app.audit.defineAction({
    name: 'project.configured',
    version: 2,
    metadata: z.object({}).strict(),
    state: projectSettings,
  })
  // Stands in for an admin plugin's impersonation: the principal names the admin acting.
  app.addHook('preHandler', (request, _reply, done) => {
    const impersonator = request.headers['x-test-impersonator']
    if (typeof impersonator === 'string' && request.principal?.type === 'user') {
      request.principal = {
        ...request.principal,
        impersonatorId: impersonator,
      } as typeof request.principal
    }
    done()
  })
  const routes = app.withTypeProvider<ZodTypeProvider>()
  const config = { auth: 'required', tenant: 'required', permission: 'projects:write' } as const

  routes.post(
    '/projects',
    {
      schema: {
        tags: ['projects'],
        body: z.object({ name: z.string().min(1).max(200), fail: z.boolean().default(false) }),
        response: { 201: project },
      },
      config,
    },
    async (request, reply) => {
      const created = await request.db.$transaction(async (tx) => {
        const row = await tx.project.create({
          data: { name: request.body.name, tenantId: request.tenant?.id ?? '' },
        })
        await app.audit.record(tx, {
          action: 'project.created',
          targets: [{ type: 'project', id: row.id }],
          metadata: { name: row.name },
        })
        // After the entry: the entry must go with the project.
        if (request.body.fail) throw new Error('the write failed after its audit entry')
        return row
      })
      return reply.code(201).send({ id: created.id, name: created.name })
    },
  )

  routes.get(
    '/projects',
    {
      schema: { tags: ['projects'], response: { 200: z.object({ items: z.array(project) }) } },
      // Reads of this route are audited: who looked at the project list, and when.
      config: { auth: 'required', tenant: 'required', permission: 'projects:write', audit: 'read' },
    },
    async (request) => ({
      items: await request.db.project.findMany({ select: { id: true, name: true } }),
    }),
  )

  routes.put(
    '/projects/:id/settings',
    {
      schema: {
        tags: ['projects'],
        params: z.object({ id: z.uuid() }).strict(),
        body: projectSettings,
        response: { 204: z.null() },
      },
      config,
    },
    async (request, reply) => {
      await request.db.$transaction(async (tx) => {
        const current = await tx.project.findFirstOrThrow({ where: { id: request.params.id } })
        await tx.project.update({
          where: { id: current.id },
          data: { settings: request.body },
        })
        await app.audit.record(tx, {
          action: 'project.configured',
          targets: [{ type: 'project', id: current.id }],
          metadata: {},
          before: current.settings,
          after: request.body,
        })
      })
      return reply.code(204).send(null)
    },
  )

  routes.post(
    '/projects/undefined-action',
    { schema: { tags: ['projects'], response: { 204: z.null() } }, config },
    async (request, reply) => {
      await app.audit.record(request.db, {
        // A bug in the app: an action it never defined.
        action: 'project.vanished' as 'project.created',
        metadata: { name: 'x' },
      })
      return reply.code(204).send(null)
    },
  )
}
