// Fastify + better-auth: `auth.api.getSession` on a session cookie, sessions in PostgreSQL, as
// better-auth's Fastify guide sets it up. A database of its own, dropped when the server stops.
import { randomBytes } from 'node:crypto'
import { betterAuth } from 'better-auth'
import { getMigrations } from 'better-auth/db/migration'
import { fromNodeHeaders } from 'better-auth/node'
import Fastify from 'fastify'
import pg from 'pg'
import { type BenchServer, BODY, PATH } from './types.js'

const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

/** `cookieCache`: better-auth's signed session cookie, which spares the database lookup. */
export async function betterAuthSession(options: { cookieCache: boolean }): Promise<BenchServer> {
  const database = `acme_bench_better_auth_${randomBytes(4).toString('hex')}`
  await admin(`CREATE DATABASE "${database}"`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${database}`
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 })
  const auth = betterAuth({
    database: pool,
    secret: randomBytes(32).toString('hex'),
    baseURL: 'http://127.0.0.1',
    emailAndPassword: { enabled: true },
    telemetry: { enabled: false },
    session: options.cookieCache
      ? { cookieCache: { enabled: true, maxAge: 3_600 } }
      : { cookieCache: { enabled: false } },
  })
  const { runMigrations } = await getMigrations(auth.options)
  await runMigrations()
  const signUp = await auth.api.signUpEmail({
    body: { email: 'bench@initech.test', password: 'correct horse battery', name: 'Bench' },
    returnHeaders: true,
  })
  const cookie = signUp.headers
    .getSetCookie()
    .map((line) => line.split(';')[0])
    .join('; ')

  const app = Fastify({ logger: false })
  app.get(PATH, async (request, reply) => {
    const session = await auth.api.getSession({ headers: fromNodeHeaders(request.headers) })
    if (!session) return reply.code(401).send({ error: 'unauthenticated' })
    return BODY
  })
  return {
    app,
    path: PATH,
    headers: { cookie },
    expectHeaders: [],
    cleanup: async () => {
      await pool.end()
      await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
    },
  }
}
