// Child process: core + auth + tenancy (RLS off, no request limit: this measures the upload path)
// + rbac + files on an in-memory embedded PostgreSQL, files on local disk in a temp folder; and
// beside it, in a scope of its own, a plain @fastify/multipart handler that pipes the file to
// disk. Answers the parent's `rss` messages with its resident set size.
import { randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import acmeAuth from '@acme/auth'
import acmeRbac from '@acme/rbac'
import acmeTenancy from '@acme/tenancy'
import multipart from '@fastify/multipart'
import { PrismaClient } from '../../packages/files/src/generated/prisma/client.js'
import acmeFiles from '../../packages/files/src/index.js'
import { embeddedApp, serveToParent } from './embedded-app.js'
import { packageMigrations } from './package-migrations.js'

const MiB = 1024 * 1024
const directory = await mkdtemp(join(tmpdir(), 'acme-bench-files-'))
const plain = join(directory, 'plain')
const plan = { requestsPerMinute: null, seats: null, storageBytes: null }
const app = await embeddedApp({ migrationsDir: await packageMigrations('files'), PrismaClient })
await app.register(acmeAuth, { jwt: { issuer: 'https://api.initech.test' } })
await app.register(acmeTenancy, {
  rls: false,
  rateLimit: { enabled: false },
  plans: { starter: { label: 'Starter', ...plan } },
})
await app.register(acmeRbac)
await app.register(acmeFiles, {
  localDirectory: join(directory, 'files'),
  signingKey: Buffer.alloc(32, 7).toString('base64'),
  upload: { maxFileBytes: 200 * MiB, allowedTypes: ['application/pdf'] },
})
await app.register(async (scope) => {
  await scope.register(multipart, { limits: { fileSize: 200 * MiB, files: 1 } })
  scope.post('/plain', { config: { auth: 'public' } }, async (request, reply) => {
    const part = await request.file()
    if (!part) return reply.code(400).send()
    const path = join(plain, randomUUID())
    await pipeline(part.file, createWriteStream(path))
    await rm(path)
    return reply.code(201).send({ ok: true })
  })
})
await (await import('node:fs/promises')).mkdir(plain, { recursive: true })
process.on('message', (message) => {
  if (message === 'rss') process.send?.({ rss: process.memoryUsage().rss })
})
process.on('exit', () => {
  void rm(directory, { recursive: true, force: true })
})
await serveToParent(app)
