import { AcmeError } from '@acme/core'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { SqlClient } from '../../src/index.js'

declare module '../../src/index.js' {
  interface WebhookEventTypes {
    'project.created': { id: string; name: string }
    'invoice.paid': { invoiceId: string; amount: number }
  }
}

/**
 * The test app's own domain: a project written through request.db with its `project.created`
 * event in the same transaction; `fail: true` throws after both, so the transaction rolls back.
 */
export function projectRoutes(app: FastifyInstance): void {
  app.permissions.declare('test-app', [
    { name: 'projects:write', description: 'Create projects.', grant: { admin: true } },
  ])
  app.webhooks.defineEventType({
    name: 'project.created',
    description: 'A project was created.',
    schema: z.object({ id: z.uuid(), name: z.string() }),
  })
  app.webhooks.defineEventType({
    name: 'invoice.paid',
    description: 'An invoice was paid.',
    schema: z.object({ invoiceId: z.string(), amount: z.number().int() }),
  })
  app.withTypeProvider<ZodTypeProvider>().post(
    '/projects',
    {
      schema: {
        body: z.object({ name: z.string().min(1).max(100), fail: z.boolean().default(false) }),
        response: { 201: z.object({ id: z.uuid(), messageId: z.string() }) },
      },
      // One transaction for the request: the project and its event commit or roll back together.
      config: {
        auth: 'required',
        tenant: 'required',
        permission: 'projects:write',
        tenantTransaction: 'request',
      },
    },
    async (request, reply) => {
      const tenantId = request.tenant?.id as string
      const db = request.db as unknown as SqlClient
      const [project] = await db.$queryRawUnsafe<Array<{ id: string }>>(
        'INSERT INTO projects (id, tenant_id, name) VALUES (gen_random_uuid(), $1::uuid, $2) RETURNING id',
        tenantId,
        request.body.name,
      )
      const id = project?.id as string
      const sent = await app.webhooks.send(db, tenantId, 'project.created', {
        id,
        name: request.body.name,
      })
      if (request.body.fail) {
        throw new AcmeError(
          'TEST_FAILED_AFTER_SEND',
          409,
          'Failed',
          'Failed after the event was sent.',
        )
      }
      return reply.code(201).send({ id, messageId: sent.id })
    },
  )
}
