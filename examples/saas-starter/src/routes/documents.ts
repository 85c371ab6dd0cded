import { filesMultipart } from '@acme/files'
import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'

/** What a tenant's members may upload as documents: stricter than the plugin's own route. */
export const DOCUMENT_LIMITS = {
  maxFiles: 5,
  maxFileBytes: 5 * 1024 * 1024,
  allowedTypes: ['application/pdf', 'image/png', 'image/jpeg', 'text/csv'],
}

const documentView = z.object({
  id: z.uuid(),
  name: z.string(),
  sizeBytes: z.number().int(),
  contentType: z.string().describe('Sniffed from the content.'),
  status: z.enum(['quarantined', 'available']),
})

/**
 * An upload route of the app's own on @acme/files: its own limits and allowlist, the plugin's
 * streaming, typing and quota. The bytes are then listed and downloaded through the plugin's
 * `/tenants/:tenantId/files` routes.
 */
export async function documentRoutes(app: FastifyInstance): Promise<void> {
  app.openapi.addTag({ name: 'documents', description: 'The tenant’s documents (uploads).' })
  await app.register(async (scope) => {
    await filesMultipart(scope)
    scope.withTypeProvider<ZodTypeProvider>().post(
      '/documents',
      {
        schema: {
          tags: ['documents'],
          summary: 'Upload documents',
          description:
            'multipart/form-data: up to 5 PDFs, PNGs, JPEGs or CSVs of 5 MiB each, typed by ' +
            'their content. Over a limit or the tenant’s quota: 413 with nothing stored; another ' +
            'type, or a name that contradicts the content: 415.',
          consumes: ['multipart/form-data'],
          response: { 201: z.object({ items: z.array(documentView) }) },
        },
        config: { auth: 'required', tenant: 'required', permission: 'files:write:own' },
      },
      async (request, reply) => {
        const items = await app.files.receive(request, DOCUMENT_LIMITS)
        return reply.code(201).send({ items })
      },
    )
  })
}
