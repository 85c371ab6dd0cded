import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'

/** The shape of a route in this app: zod in and out, a tag, a description, an auth mode. */
export async function aboutRoutes(app: FastifyInstance): Promise<void> {
  app.openapi.addTag({ name: 'about', description: 'What this service is.' })
  app.withTypeProvider<ZodTypeProvider>().get(
    '/about',
    {
      schema: {
        tags: ['about'],
        summary: 'About this service',
        description: 'The product name and the links a client needs to get started.',
        response: {
          200: z.object({ name: z.string(), docs: z.url(), openapi: z.url() }),
        },
      },
      config: { auth: 'public' },
    },
    async () => ({
      name: app.brand.name,
      docs: `${app.brand.baseUrl}/docs`,
      openapi: `${app.brand.baseUrl}/docs/openapi.json`,
    }),
  )
}
