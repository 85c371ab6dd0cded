import { PrismaPg } from '@prisma/adapter-pg'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { PrismaClient } from './generated/prisma/client.js'
import { buildTestApp } from './support/app.js'
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniquePrefix } from './support/env.js'

declare module '../src/index.js' {
  interface AcmeRegister {
    prisma: PrismaClient
  }
}

describe('data clients', () => {
  it('builds the PrismaClient from a URL and disconnects it on close', async () => {
    const { app } = await buildTestApp({
      database: { url: TEST_DATABASE_URL, PrismaClient, poolSize: 2 },
    })
    // AcmeRegister makes app.prisma the generated client, with its models.
    const rows = await app.prisma.$queryRaw<Array<{ answer: number }>>`SELECT 42 AS answer`
    expect(rows).toEqual([{ answer: 42 }])
    expect(typeof app.prisma.probe.findMany).toBe('function')
    await app.close()
  })

  it('uses the client the host passes, and leaves it open when closeClients is false', async () => {
    const prisma = new PrismaClient({
      adapter: new PrismaPg({ connectionString: TEST_DATABASE_URL }),
    })
    const redis = new Redis(TEST_REDIS_URL)
    const { app } = await buildTestApp({
      prisma,
      redis,
      redisKeyPrefix: uniquePrefix('data'),
      closeClients: false,
    })
    expect(app.prisma).toBe(prisma)
    expect(app.redis).toBe(redis)
    await app.close()
    expect(await redis.ping()).toBe('PONG')
    await expect(prisma.$queryRaw`SELECT 1`).resolves.toBeDefined()
    await redis.quit()
    await prisma.$disconnect()
  })

  it('closes the Redis connection it was given by default', async () => {
    const redis = new Redis(TEST_REDIS_URL)
    const { app } = await buildTestApp({ redis, redisKeyPrefix: uniquePrefix('data') })
    await app.ready()
    await app.close()
    expect(redis.status).toBe('end')
  })
})
