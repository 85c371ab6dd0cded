import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { EventTypeCatalog } from '../event-types.js'
import { eventTypeView } from './schemas.js'

/**
 * The event-type catalog. It is the same for every tenant and holds no tenant data, but it
 * describes the product's API, so it takes a signed-in caller (an API key may read it too:
 * scripts that create endpoints need it).
 */
export async function eventTypeRoutes(
  app: FastifyInstance,
  options: { catalog: EventTypeCatalog },
) {
  const routes = app.withTypeProvider<ZodTypeProvider>()
  routes.get(
    '/webhooks/event-types',
    {
      schema: {
        tags: ['webhooks'],
        summary: 'List webhook event types',
        description:
          'Every event type endpoints can subscribe to, with its payload as JSON Schema.',
        response: { 200: z.object({ items: z.array(eventTypeView) }) },
      },
      config: { auth: 'required', permission: false, apiKeys: 'allow' },
    },
    async () => ({ items: options.catalog.list() }),
  )
}
