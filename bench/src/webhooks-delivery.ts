// Webhooks: what `send` adds to the business transaction, and sustained deliveries per second
// from one worker process to a local receiver. One PostgreSQL database (the webhooks package's
// merged schema), Redis for the queue, the receiver in a child process of its own so its CPU is
// not the worker's. Usage:
//   pnpm --filter @acme/bench bench:webhooks   [BENCH_MESSAGES=20000 BENCH_CONCURRENCY=100
//                                               BENCH_PER_TENANT=10 BENCH_SEND_SAMPLES=2000
//                                               BENCH_POOL=20 BENCH_V1A=1]
// All the messages are one tenant's: BENCH_PER_TENANT is `delivery.perTenantConcurrency`
// (default 10, the product's), which bounds one tenant's burst. BENCH_V1A=1 gives the tenant an
// Ed25519 signing key, so every delivery also carries a `v1a` signature.
// Goals (issue 14): at least 1,000 deliveries/s with one worker process; `send` under 1 ms.

import { type ChildProcess, fork } from 'node:child_process'
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import acmeAuth from '@acme/auth'
import { ensureAppRole, migrateApply } from '@acme/cli'
import acmeCore, { SecretBox, serverOptions } from '@acme/core'
import acmeTenancy from '@acme/tenancy'
import acmeWebhooks, { generateSecret, type SqlClient } from '@acme/webhooks'
import Fastify from 'fastify'
import pg from 'pg'
import { z } from 'zod'
import { PrismaClient } from '../../packages/webhooks/src/generated/prisma/client.js'
import { packageMigrations } from './package-migrations.js'

// The receiver: a child process answering 204 to everything, counting what it got.
if (process.argv[2] === 'receiver') {
  let received = 0
  let withV1a = 0
  const server = createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      received++
      if (String(request.headers['webhook-signature']).includes('v1a,')) withV1a++
      response.writeHead(204).end()
    })
  })
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as AddressInfo).port })
  })
  process.on('message', () => process.send?.({ received, withV1a }))
} else {
  await main()
}

async function main(): Promise<void> {
  const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000)
  const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100)
  const SEND_SAMPLES = Number(process.env.BENCH_SEND_SAMPLES ?? 2_000)
  const POOL = Number(process.env.BENCH_POOL ?? 20)
  const PER_TENANT = Number(process.env.BENCH_PER_TENANT ?? 10)
  const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

  const admin = async (sql: string, values: unknown[] = [], url = ADMIN_URL) => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      return await client.query(sql, values)
    } finally {
      await client.end()
    }
  }

  const migrationsDir = await packageMigrations('webhooks')
  const database = `bench_webhooks_${randomBytes(4).toString('hex')}`
  const ownerUrl = new URL(ADMIN_URL)
  ownerUrl.pathname = `/${database}`
  const role = `bench_app_${randomBytes(4).toString('hex')}`
  const password = randomBytes(12).toString('hex')
  const appUrl = new URL(ownerUrl)
  appUrl.username = role
  appUrl.password = password
  const encryptionKey = randomBytes(32).toString('base64')
  const prefix = `bench:webhooks:${randomBytes(4).toString('hex')}:`

  const receiver: ChildProcess = fork(new URL(import.meta.url).pathname, ['receiver'], {
    execArgv: process.execArgv,
  })
  const [{ port }] = (await once(receiver, 'message')) as [{ port: number }]
  const receiverCounts = async (): Promise<{ received: number; withV1a: number }> => {
    receiver.send('count')
    const [counts] = (await once(receiver, 'message')) as [{ received: number; withV1a: number }]
    return counts
  }

  await admin(`CREATE DATABASE "${database}"`)
  const app = Fastify(serverOptions({ logger: false }))
  try {
    await migrateApply({ migrationsDir, target: { url: ownerUrl.toString() } })
    await ensureAppRole({ url: ownerUrl.toString(), role, password })
    const tenantId = randomUUID()
    await admin(
      `INSERT INTO tenants (id, name, slug, plan, updated_at) VALUES ($1, 'bench', 'bench', 'enterprise', now())`,
      [tenantId],
      ownerUrl.toString(),
    )
    const endpointId = randomUUID()
    const sealed = new SecretBox(Buffer.from(encryptionKey, 'base64')).encrypt(
      generateSecret(32),
      `webhook-endpoint:${endpointId}`,
    )
    await admin(
      `INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, secret, updated_at)
       VALUES ($1, $2, $3, '{bench.delivered}', $4, now())`,
      [endpointId, tenantId, `http://127.0.0.1:${port}/hook`, sealed],
      ownerUrl.toString(),
    )

    if (process.env.BENCH_V1A === '1') {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519')
      const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32)
      const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)
      await admin(
        `INSERT INTO webhook_signing_keys (tenant_id, public_key, private_key, created_at)
         VALUES ($1, $2, $3, now())`,
        [
          tenantId,
          `whpk_${raw.toString('base64')}`,
          new SecretBox(Buffer.from(encryptionKey, 'base64')).encrypt(
            `whsk_${seed.toString('base64')}`,
            `webhook-signing-key:${tenantId}`,
          ),
        ],
        ownerUrl.toString(),
      )
    }
    await app.register(acmeCore, {
      brand: {
        name: 'Bench',
        baseUrl: 'https://api.bench.test',
        supportEmail: 'help@bench.test',
        mailFrom: 'no-reply@bench.test',
      },
      mail: { transport: 'memory' },
      database: { url: appUrl.toString(), PrismaClient, poolSize: POOL },
      redis: REDIS_URL,
      redisKeyPrefix: prefix,
    })
    await app.register(acmeAuth, { jwt: { issuer: 'https://api.bench.test' } })
    await app.register(acmeTenancy, { rateLimit: { enabled: false } })
    await app.register(acmeWebhooks, {
      encryptionKey,
      ssrf: { allowAddresses: ['127.0.0.1'] },
      delivery: {
        concurrency: CONCURRENCY,
        perTenantConcurrency: PER_TENANT,
        sweepEverySeconds: 3_600,
        // One sweep relays every message (up to the option's maximum, 100,000).
        sweepBatch: 100_000,
      },
    })
    // `bench.sent` has no endpoint: measuring `send` creates no deliveries.
    for (const name of ['bench.sent', 'bench.delivered']) {
      app.webhooks.defineEventType({
        name,
        description: 'Benchmark event.',
        schema: z.object({ n: z.number().int(), note: z.string() }),
      })
    }
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

    // 1. The cost of `send` in a business transaction: the same transaction (the tenant set, one
    // insert) without it, with it, and with one trivial statement instead (the floor: one more
    // round trip through the client), interleaved, median of each.
    const business = async (extra: 'none' | 'send' | 'statement' | 'parameters', n: number) => {
      const started = performance.now()
      await prisma.$transaction(async (tx) => {
        await tx.$queryRawUnsafe(
          `SELECT set_config('app.tenant_id', $1, true)::text AS ok`,
          tenantId,
        )
        await tx.$queryRawUnsafe(
          'INSERT INTO projects (id, tenant_id, name) VALUES (gen_random_uuid(), $1::uuid, $2) RETURNING id',
          tenantId,
          `p${n}`,
        )
        if (extra === 'send') await send(tx, tenantId, 'bench.sent', { n, note: 'x'.repeat(200) })
        if (extra === 'statement') await tx.$queryRawUnsafe('SELECT 1 AS one')
        // The values `send` passes, through the same client, with no insert: what is left of
        // send's cost beyond this is PostgreSQL's insert (row-level security, indexes, jsonb).
        if (extra === 'parameters') {
          await tx.$queryRawUnsafe(
            'SELECT $1::text AS id, $2::uuid AS tenant, $3::text AS type, $4::jsonb AS payload, $5::timestamptz AS at',
            `msg_${n}`,
            tenantId,
            'bench.sent',
            JSON.stringify({ n, note: 'x'.repeat(200) }),
            new Date(),
          )
        }
      })
      return performance.now() - started
    }
    const without: number[] = []
    const withIt: number[] = []
    const withStatement: number[] = []
    const withParameters: number[] = []
    for (let n = 0; n < SEND_SAMPLES; n++) {
      without.push(await business('none', n))
      withIt.push(await business('send', n))
      withStatement.push(await business('statement', n))
      withParameters.push(await business('parameters', n))
    }
    const median = (values: number[]) =>
      [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

    // 2. Sustained deliveries: MESSAGES in the outbox (committed 500 per transaction), then one
    // sweep relays them and this process's worker delivers, timed until all are delivered.
    for (let first = 0; first < MESSAGES; first += 500) {
      await prisma.$transaction(async (tx) => {
        for (let n = first; n < Math.min(first + 500, MESSAGES); n++) {
          await send(tx, tenantId, 'bench.delivered', { n, note: 'x'.repeat(200) })
        }
      })
    }
    // The samples of `send` have no endpoint: done with, so the sweep takes only these messages.
    await admin(
      `UPDATE webhook_messages SET relayed_at = now() WHERE event_type = 'bench.sent'`,
      [],
      ownerUrl.toString(),
    )
    const before = await receiverCounts()
    const started = performance.now()
    await app.webhooks.sweep()
    let delivered = 0
    while (delivered < MESSAGES) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      const { rows } = await admin(
        `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'delivered'`,
        [],
        ownerUrl.toString(),
      )
      delivered = rows[0].n as number
      if (performance.now() - started > 600_000)
        throw new Error(`only ${delivered} delivered in 10 min`)
    }
    const seconds = (performance.now() - started) / 1000
    const after = await receiverCounts()
    const received = after.received - before.received
    const { rows: durations } = await admin(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99
       FROM webhook_attempts`,
      [],
      ownerUrl.toString(),
    )

    console.log(`\n| measure | value |\n| --- | --- |`)
    console.log(`| business transaction, median | ${median(without).toFixed(3)} ms |`)
    console.log(`| same with \`send\`, median | ${median(withIt).toFixed(3)} ms |`)
    console.log(
      `| cost of \`send\` | ${(median(withIt) - median(without)).toFixed(3)} ms (goal < 1 ms) |`,
    )
    console.log(
      `| cost of one \`SELECT 1\` instead (the floor) | ${(median(withStatement) - median(without)).toFixed(3)} ms |`,
    )
    console.log(
      `| cost of a \`SELECT\` of send's five values instead | ${(median(withParameters) - median(without)).toFixed(3)} ms |`,
    )
    console.log(
      `| deliveries | ${MESSAGES} in ${seconds.toFixed(1)} s: ${(MESSAGES / seconds).toFixed(0)}/s (goal >= 1,000/s) |`,
    )
    console.log(`| requests the receiver saw | ${received} |`)
    console.log(`| of them signed with \`v1a\` too | ${after.withV1a - before.withV1a} |`)
    console.log(
      `| attempt duration p50 / p99 | ${Number(durations[0].p50).toFixed(1)} / ${Number(durations[0].p99).toFixed(1)} ms |`,
    )
    console.log(
      `| worker concurrency / per tenant / pool | ${CONCURRENCY} / ${PER_TENANT} / ${POOL} |`,
    )
  } finally {
    await app.close().catch(() => undefined)
    receiver.kill()
    await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
    await admin(`DROP ROLE IF EXISTS "${role}"`)
  }
}
