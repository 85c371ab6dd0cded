// Child process: core + auth + tenancy (RLS off, no request limit: this measures the upload path)
// + rbac + files on an in-memory embedded PostgreSQL, files on local disk in a temp folder; and
// beside it, in a scope of its own, a plain @fastify/multipart handler that pipes the file to
// disk. Answers the parent's `rss` messages with its resident set size and the CPU time it used.
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
// BENCH_PLAIN_WRITE_BUFFER_KIB: give the plain handler's file stream the write buffer the local
// driver uses (1024), to compare the rest of the path on equal terms; by default it has the
// stream's default, as a user would write it.
const plainBufferKiB = Number(process.env.BENCH_PLAIN_WRITE_BUFFER_KIB ?? 0)
const plainWriteOptions = plainBufferKiB > 0 ? { highWaterMark: plainBufferKiB * 1024 } : {}
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
    // What a user would write: the part piped to a file on the same disk as the app's files.
    const name = randomUUID()
    await pipeline(part.file, createWriteStream(join(plain, name), plainWriteOptions))
    return reply.code(201).send({ name })
  })
  // Removed after the timed upload, as the app's files are (by its DELETE route).
  scope.delete<{ Params: { name: string } }>(
    '/plain/:name',
    { config: { auth: 'public' } },
    async (request, reply) => {
      await rm(join(plain, request.params.name.replace(/[^0-9a-f-]/g, '')))
      return reply.code(204).send()
    },
  )
})
await (await import('node:fs/promises')).mkdir(plain, { recursive: true })
process.on('message', (message) => {
  if (message === 'rss') {
    const { user, system } = process.cpuUsage()
    process.send?.({ rss: process.memoryUsage().rss, cpuMicros: user + system })
  }
})
process.on('exit', () => {
  void rm(directory, { recursive: true, force: true })
})
await serveToParent(app)
