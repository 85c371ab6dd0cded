import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import type { HealthRegistry } from './health.js'

const checkResult = z.object({
  status: z.enum(['up', 'down']),
  latencyMs: z.number(),
  error: z.enum(['timeout', 'failed']).optional(),
})

const readiness = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.record(z.string(), checkResult),
})

export function registerHealthRoutes(app: FastifyInstance, registry: HealthRegistry): void {
  const routes = app.withTypeProvider<ZodTypeProvider>()
  app.openapi.addTag({ name: 'health', description: 'Liveness and readiness probes.' })

  routes.get(
    '/health/live',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness',
        description: 'Answers 200 while the process serves HTTP. Checks nothing else.',
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
      config: { auth: 'public', rateLimit: false },
    },
    async () => ({ status: 'ok' as const }),
  )

  routes.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness',
        description:
          'Runs every registered check (database, Redis, queue, plugin checks) in parallel, ' +
          'each bounded by a timeout. 200 when all are up, 503 with the same body otherwise.',
        response: { 200: readiness, 503: readiness },
      },
      config: { auth: 'public', rateLimit: false },
    },
    async (request, reply) => {
      const report = await registry.run((name, error) => {
        request.log.warn({ check: name, err: error }, 'readiness check failed')
      })
      return reply.code(report.status === 'ok' ? 200 : 503).send(report)
    },
  )
}
