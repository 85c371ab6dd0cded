import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { acmeCore, type CoreOptions } from '../src/index.js'

async function readyWith(options: unknown) {
  const app = Fastify({ logger: false })
  await app.register(acmeCore, options as CoreOptions)
  try {
    await app.ready()
  } finally {
    await app.close().catch(() => {})
  }
}

describe('options are validated at register time', () => {
  it.each([
    ['a missing brand name', { brand: {} }, /"brand\.name"/],
    ['a non-URL base URL', { brand: { name: 'X', baseUrl: 'not a url' } }, /"brand\.baseUrl"/],
    ['an unknown option', { brand: { name: 'X' }, brnad: {} }, /brnad/],
    ['a Redis URL of the wrong scheme', { brand: { name: 'X' }, redis: 'http://x' }, /"redis"/],
    ['a Prisma that is not a client', { brand: { name: 'X' }, prisma: {} }, /"prisma"/],
    [
      'both a client and a database URL',
      {
        brand: { name: 'X' },
        prisma: { $queryRaw: () => {} },
        database: { url: 'postgres://x', PrismaClient: class {} },
      },
      /"database"/,
    ],
    [
      'SMTP without a sender address',
      { brand: { name: 'X' }, mail: { transport: 'smtp', url: 'smtp://127.0.0.1:25' } },
      /"brand\.mailFrom"/,
    ],
    ['a zero rate limit', { brand: { name: 'X' }, rateLimit: { max: 0 } }, /"rateLimit/],
  ])('%s fails app.ready() naming the option', async (_label, options, message) => {
    await expect(readyWith(options)).rejects.toThrow(message)
  })

  it('accepts the minimal options of the quick start', async () => {
    await expect(readyWith({ brand: { name: 'Initech' } })).resolves.toBeUndefined()
  })

  it('throws a named error when app.prisma is used without a database', async () => {
    const app = Fastify({ logger: false })
    await app.register(acmeCore, { brand: { name: 'Initech' }, mail: { transport: 'memory' } })
    await app.ready()
    expect(() => app.prisma).toThrow(/"prisma" is not configured/)
    expect(app.redis).toBeNull()
    expect(app.jobs.mode).toBe('in-process')
    await app.close()
  })
})
