// Shared by the benchmark servers that need a database but no database server: core on an
// in-memory embedded PostgreSQL migrated with a package's merged schema, and the child-process
// handshake that tells the parent the port.
import type { AddressInfo } from 'node:net'
import { migrateApply } from '@acme/cli'
import acmeCore, { type CoreOptions, type PrismaClientLike, serverOptions } from '@acme/core'
import { PGlite } from '@electric-sql/pglite'
import Fastify, { type FastifyInstance } from 'fastify'
import { PrismaPGlite } from 'pglite-prisma-adapter'

export async function embeddedApp(options: {
  migrationsDir: string
  PrismaClient: new (options: { adapter: PrismaPGlite }) => PrismaClientLike
  core?: Partial<CoreOptions>
}): Promise<FastifyInstance> {
  const pglite = new PGlite()
  await migrateApply({ migrationsDir: options.migrationsDir, target: { pglite } })
  const app = Fastify(serverOptions({ logger: false }))
  await app.register(acmeCore, {
    brand: { name: 'Initech' },
    prisma: new options.PrismaClient({ adapter: new PrismaPGlite(pglite) }),
    mail: { transport: 'memory' },
    rateLimit: false,
    ...options.core,
  })
  return app
}

/** Listens on a free port, tells the parent process, and closes when the parent lets go. */
export async function serveToParent(app: FastifyInstance): Promise<void> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  process.send?.({ port: (app.server.address() as AddressInfo).port })
  process.on('disconnect', () => {
    app.close().then(() => process.exit(0))
  })
}
