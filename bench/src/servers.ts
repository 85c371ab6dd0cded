import acmeCore, { serverOptions } from '@acme/core'
import Fastify, { type FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'

const body = { id: '8d3c1c9e-3c1f-4a52-9f0e-2b8f6d1f4a11', name: 'Initech', plan: 'pro' }

/** The same JSON route on Fastify alone. */
async function bare(): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  app.get('/projects/current', async () => body)
  return app
}

/** The same route with core's defaults: helmet, CORS, rate limit, context, zod, problems. */
async function withCore(): Promise<FastifyInstance> {
  const app = Fastify(serverOptions({ logger: false }))
  await app.register(acmeCore, {
    brand: { name: 'Initech' },
    mail: { transport: 'memory' },
    // Every request still goes through the limiter; the ceiling only keeps the load
    // generator from measuring 429s instead of the route.
    rateLimit: { max: 1_000_000_000 },
  })
  app.withTypeProvider<ZodTypeProvider>().get(
    '/projects/current',
    {
      schema: {
        response: { 200: z.object({ id: z.uuid(), name: z.string(), plan: z.string() }) },
      },
    },
    async () => body,
  )
  return app
}

export const servers = { bare, withCore }
export type ServerName = keyof typeof servers
