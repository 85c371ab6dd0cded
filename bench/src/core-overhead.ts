// What core costs on the request path: the same JSON route on bare Fastify and on Fastify with
// core's defaults (helmet, CORS, rate limit, request context, zod serializer, problem handler),
// measured in one run, one after the other, so the ratio is meaningful on a noisy machine.
import type { AddressInfo } from 'node:net'
import acmeCore, { serverOptions } from '@acme/core'
import autocannon from 'autocannon'
import Fastify, { type FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2)
const body = { id: '8d3c1c9e-3c1f-4a52-9f0e-2b8f6d1f4a11', name: 'Initech', plan: 'pro' }

async function bare(): Promise<FastifyInstance> {
  const app = Fastify({ logger: false })
  app.get('/projects/current', async () => body)
  return app
}

async function withCore(): Promise<FastifyInstance> {
  const app = Fastify(serverOptions({ logger: false }))
  await app.register(acmeCore, {
    brand: { name: 'Initech' },
    mail: { transport: 'memory' },
    // Every request still goes through the limiter; the ceiling only keeps autocannon from
    // measuring 429s instead of the route.
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

async function measure(build: () => Promise<FastifyInstance>): Promise<number> {
  const app = await build()
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/projects/current`,
    connections: CONNECTIONS,
    duration: DURATION_S,
  })
  await app.close()
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`benchmark saw ${result.non2xx} non-2xx and ${result.errors} errors`)
  }
  return result.requests.average
}

const rows: Array<{ round: number; bare: number; core: number }> = []
for (let round = 1; round <= ROUNDS; round++) {
  const bareRps = await measure(bare)
  const coreRps = await measure(withCore)
  rows.push({ round, bare: bareRps, core: coreRps })
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
const bareMean = mean(rows.map((row) => row.bare))
const coreMean = mean(rows.map((row) => row.core))
console.log(`node ${process.version}, ${CONNECTIONS} connections, ${DURATION_S} s per measurement`)
console.log('| round | bare Fastify (req/s) | with core (req/s) | ratio |')
console.log('|---|---|---|---|')
for (const row of rows) {
  console.log(
    `| ${row.round} | ${Math.round(row.bare)} | ${Math.round(row.core)} | ${(row.core / row.bare).toFixed(2)} |`,
  )
}
console.log(
  `| mean | ${Math.round(bareMean)} | ${Math.round(coreMean)} | ${(coreMean / bareMean).toFixed(2)} |`,
)
