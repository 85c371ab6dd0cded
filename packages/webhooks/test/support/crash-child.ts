// A separate app process for the crash tests: same database and queues as the test's app. It
// prints what it did on stdout, one JSON line per step, and then waits to be killed.
import acmeAuth from '@acme/auth'
import acmeCore, { serverOptions } from '@acme/core'
import acmeTenancy from '@acme/tenancy'
import Fastify from 'fastify'
import { z } from 'zod'
import { PrismaClient } from '../../src/generated/prisma/client.js'
import acmeWebhooks, { type SqlClient } from '../../src/index.js'

const env = (name: string): string => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is required`)
  return value
}
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`)

const app = Fastify(serverOptions({ logger: false }))
await app.register(acmeCore, {
  brand: {
    name: 'Initech',
    baseUrl: 'https://api.initech.test',
    supportEmail: 'help@initech.test',
    mailFrom: 'no-reply@initech.test',
  },
  mail: { transport: 'memory' },
  database: { url: env('DATABASE_URL'), PrismaClient, poolSize: 2 },
  redis: env('REDIS_URL'),
  redisKeyPrefix: env('REDIS_PREFIX'),
})
await app.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' } })
await app.register(acmeTenancy, { rateLimit: { enabled: false } })
await app.register(acmeWebhooks, {
  encryptionKey: env('ENCRYPTION_KEY'),
  ssrf: { allowAddresses: ['127.0.0.1'] },
  delivery: {
    sweepEverySeconds: 3_600,
    ...(process.env.PER_TENANT_CONCURRENCY
      ? { perTenantConcurrency: Number(process.env.PER_TENANT_CONCURRENCY) }
      : {}),
  },
})
app.webhooks.defineEventType({
  name: 'invoice.paid',
  description: 'An invoice was paid.',
  schema: z.object({ invoiceId: z.string(), amount: z.number().int() }),
})
await app.ready()

const prisma = app.prisma as unknown as {
  $transaction<R>(work: (tx: SqlClient) => Promise<R>): Promise<R>
}
const send = app.webhooks.send as (
  db: SqlClient,
  tenantId: string,
  type: string,
  payload: unknown,
) => Promise<{ id: string }>
const { id } = await prisma.$transaction((tx) =>
  send(tx, env('TENANT_ID'), 'invoice.paid', { invoiceId: env('INVOICE_ID'), amount: 1 }),
)
say({ committed: id })
// `relay`: this process also relays and starts the attempt (killed while the receiver holds it).
if (env('MODE') === 'relay') await app.webhooks.sweep()
say({ waiting: true })
setInterval(() => undefined, 60_000)
