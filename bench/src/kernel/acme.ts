// acme's servers: core alone on a public route (its global rate limit in memory, in Redis, or
// off, to show what the limit costs), then core + auth with a bearer token, then core + auth +
// rbac on a permission-guarded route. Every one keeps core's defaults: security headers, CORS,
// request context and ids, problem+json, a zod response schema.
import { randomBytes } from 'node:crypto'
import acmeAuth from '@acme/auth'
import acmeCore, { type CoreOptions, serverOptions } from '@acme/core'
import acmeRbac from '@acme/rbac'
import Fastify, { type FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { Redis } from 'ioredis'
import { z } from 'zod'
import { PrismaClient } from '../../../packages/rbac/src/generated/prisma/client.js'
import { embeddedApp } from '../embedded-app.js'
import { packageMigrations } from '../package-migrations.js'
import { type BenchServer, BODY, PATH } from './types.js'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const response = { 200: z.object({ id: z.uuid(), name: z.string(), plan: z.string() }) }
/** Every request still goes through the limiter; the ceiling keeps 429s out of the figures. */
const UNREACHED_LIMIT = { max: 1_000_000_000 }
const SECURITY_HEADERS = [
  'content-security-policy',
  'strict-transport-security',
  'x-content-type-options',
  'x-frame-options',
  'x-request-id',
]
const LIMIT_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']

function route(app: FastifyInstance, config: Record<string, unknown>): void {
  app
    .withTypeProvider<ZodTypeProvider>()
    .get(PATH, { schema: { response }, config }, async () => BODY)
}

/** Core alone, public route. `limit`: where the global rate limit counts, or off. */
export async function corePublic(limit: 'memory' | 'redis' | 'off'): Promise<BenchServer> {
  const app = Fastify(serverOptions({ logger: false }))
  const prefix = `acme:bench:${randomBytes(4).toString('hex')}:`
  const options: CoreOptions = {
    brand: { name: 'Initech' },
    mail: { transport: 'memory' },
    rateLimit: limit === 'off' ? false : UNREACHED_LIMIT,
    ...(limit === 'redis' ? { redis: REDIS_URL, redisKeyPrefix: prefix } : {}),
  }
  await app.register(acmeCore, options)
  route(app, { auth: 'public' })
  return {
    app,
    path: PATH,
    headers: {},
    expectHeaders: limit === 'off' ? SECURITY_HEADERS : [...SECURITY_HEADERS, ...LIMIT_HEADERS],
    cleanup: limit === 'redis' ? () => deleteKeys(prefix) : undefined,
  }
}

/**
 * A reference, not a product: bare Fastify setting, from one callback hook, the very headers
 * core's public route answers with (security headers, RateLimit fields, a request id), fixed.
 * The gap between it and bare Fastify is what the header bytes alone cost (Node validates and
 * writes each one, the client reads it); the gap between it and core is core's own work.
 */
export async function bareWithCoreHeaders(): Promise<BenchServer> {
  const core = await corePublic('memory')
  const sample = await core.app.inject({ url: core.path })
  await core.app.close()
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(sample.headers)) {
    if (!['content-type', 'content-length', 'date', 'connection'].includes(name)) {
      headers[name] = String(value)
    }
  }
  const app = Fastify({ logger: false })
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })
  app.get(PATH, async () => BODY)
  return { app, path: PATH, headers: {}, expectHeaders: Object.keys(headers) }
}

async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL)
  try {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
  } finally {
    await redis.quit()
  }
}

/**
 * Core + auth (+ rbac when `permission` is given) on an embedded database, which the measured
 * route never reaches once the token and the permissions are warm.
 */
export async function acmeAuthenticated(permission: string | null): Promise<BenchServer> {
  const app = await embeddedApp({
    migrationsDir: await packageMigrations('rbac'),
    PrismaClient,
    core: { rateLimit: UNREACHED_LIMIT },
  })
  await app.register(acmeAuth, {
    jwt: { issuer: 'https://api.initech.test', accessTtlSeconds: 3_600 },
  })
  if (permission) {
    await app.register(acmeRbac, {
      permissions: [{ name: permission, description: 'Read reports' }],
      systemRoles: [
        { name: 'owner', permissions: ['*'] },
        { name: 'reader', permissions: [permission] },
      ],
      defaultRoles: ['reader'],
    })
  }
  route(app, permission ? { auth: 'required', permission } : { auth: 'required' })
  const credentials = { email: 'bench@initech.test', password: 'correct horse battery' }
  await app.inject({ method: 'POST', url: '/auth/register', payload: credentials })
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: credentials })
  const { accessToken } = login.json<{ accessToken: string }>()
  return {
    app,
    path: PATH,
    headers: { authorization: `Bearer ${accessToken}` },
    expectHeaders: [...SECURITY_HEADERS, ...LIMIT_HEADERS],
  }
}
