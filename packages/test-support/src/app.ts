import { PassThrough } from 'node:stream'
import acmeCore, { type CoreOptions, type PrismaClientConstructor, serverOptions } from '@acme/core'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { createTestDatabase, type TestDatabase } from './database.js'
import { TEST_REDIS_URL, uniquePrefix } from './env.js'
import { logCaptureSink } from './log-capture.js'

export const TEST_BRAND = {
  name: 'Initech',
  baseUrl: 'https://api.initech.test',
  supportEmail: 'help@initech.test',
  mailFrom: 'no-reply@initech.test',
} as const

export interface TestAppOptions {
  /** Labels the database and Redis prefix, to find leftovers of a crashed run. */
  label?: string
  /** The migrations that build the database; without it no database is created. */
  migrationsDir?: string
  /** Share another app's database instead (two instances of one deployment); not dropped. */
  database?: TestDatabase
  /** Share another app's Redis prefix instead; its keys are left to that app. */
  redisPrefix?: string
  /** The generated client of the schema those migrations create. */
  PrismaClient?: PrismaClientConstructor
  /** Real Redis under a prefix of its own (default), or none (embedded stand-ins). */
  redis?: boolean
  /** Core options on top of the test defaults (brand, memory mail). */
  core?: Partial<CoreOptions>
  /** Registers the plugins under test and any test routes, after core. */
  setup?: (app: FastifyInstance) => void | Promise<void>
}

export interface TestApp {
  app: FastifyInstance
  database: TestDatabase | null
  redisPrefix: string | null
  /** Every log line, parsed. */
  readonly logs: Array<Record<string, unknown>>
  /** The raw log text, for "never appears anywhere" assertions. */
  rawLogs(): string
  /** Closes the app, deletes the Redis keys and drops the database. */
  close(): Promise<void>
}

/** A Fastify app with core and the chosen plugins, on its own database and Redis prefix. */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const label = options.label ?? 'app'
  const ownsDatabase = !options.database && options.migrationsDir !== undefined
  const database =
    options.database ??
    (options.migrationsDir
      ? await createTestDatabase({ migrationsDir: options.migrationsDir, label })
      : null)
  const ownsPrefix = options.redisPrefix === undefined
  const redisPrefix = options.redis === false ? null : (options.redisPrefix ?? uniquePrefix(label))

  const stream = new PassThrough()
  const lines: string[] = []
  // Also to the run's capture file, which the global setup scans for secrets after the run.
  const capture = logCaptureSink()
  stream.on('data', (chunk: Buffer) => {
    const text = chunk.toString()
    lines.push(...text.split('\n').filter(Boolean))
    capture?.(text)
  })
  const app = Fastify({
    ...serverOptions({ logger: { stream }, level: 'debug' }),
    // Fastify gives plugins and onReady hooks 10 s; a loaded 2-core CI machine can need more to
    // start an app, and these tests check behaviour, not startup time.
    pluginTimeout: 60_000,
  })

  await app.register(acmeCore, {
    brand: TEST_BRAND,
    mail: { transport: 'memory' },
    ...(database && options.PrismaClient
      ? { database: { url: database.url, PrismaClient: options.PrismaClient, poolSize: 4 } }
      : {}),
    ...(redisPrefix ? { redis: TEST_REDIS_URL, redisKeyPrefix: redisPrefix } : {}),
    ...options.core,
  })
  await options.setup?.(app)
  await app.ready()

  return {
    app,
    database,
    redisPrefix,
    get logs() {
      return lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    },
    rawLogs: () => lines.join('\n'),
    async close() {
      await app.close()
      if (redisPrefix && ownsPrefix) await deleteKeys(redisPrefix)
      if (ownsDatabase) await database?.drop()
    },
  }
}

async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL)
  try {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
  } finally {
    await redis.quit()
  }
}
