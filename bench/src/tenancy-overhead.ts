// What tenant isolation costs on a read route that touches the database: the same authenticated
// query (20 rows of one tenant) without tenancy, with the scoped client only (RLS off), and with
// row-level security (one transaction per request), in one run against one PostgreSQL database.

import { fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { ensureAppRole, migrateApply } from '@acme/cli'
import autocannon from 'autocannon'
import { exportJWK, generateKeyPair } from 'jose'
import pg from 'pg'
import { packageMigrations } from './package-migrations.js'

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20)
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const migrationsDir = await packageMigrations('tenancy')
const server = fileURLToPath(new URL('./tenancy-server.ts', import.meta.url))

const database = `acme_bench_tenancy_${randomBytes(4).toString('hex')}`
const role = `acme_bench_${randomBytes(4).toString('hex')}`
const password = randomBytes(12).toString('hex')
const ownerUrl = new URL(ADMIN_URL)
ownerUrl.pathname = `/${database}`
const appUrl = new URL(ownerUrl)
appUrl.username = role
appUrl.password = password

async function admin(sql: string, url = ADMIN_URL): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(sql)
  } finally {
    await client.end()
  }
}

await admin(`CREATE DATABASE "${database}"`)
const tenantIds: string[] = []
try {
  await migrateApply({ migrationsDir, target: { url: ownerUrl.toString() } })
  await ensureAppRole({ url: ownerUrl.toString(), role, password })
  // Two tenants of 1000 notes each: the route reads 20 of its own.
  for (const name of ['a', 'b']) {
    const { rows } = await admin(
      `INSERT INTO tenants (id, name, slug, plan, updated_at) VALUES (gen_random_uuid(), '${name}', '${name}', 'enterprise', now()) RETURNING id`,
      ownerUrl.toString(),
    )
    const id = rows[0].id as string
    tenantIds.push(id)
    await admin(
      `INSERT INTO notes (id, tenant_id, title) SELECT gen_random_uuid(), '${id}', 'note ' || n FROM generate_series(1, 1000) n`,
      ownerUrl.toString(),
    )
  }
  const { privateKey } = await generateKeyPair('EdDSA', { extractable: true })
  const jwk = { ...(await exportJWK(privateKey)), kid: 'bench', alg: 'EdDSA' }
  const env = {
    ...process.env,
    BENCH_OWNER_URL: ownerUrl.toString(),
    BENCH_APP_URL: appUrl.toString(),
    BENCH_TENANT_ID: tenantIds[0],
    BENCH_JWT_KEYS: JSON.stringify([jwk]),
  }

  const results: Array<{ mode: string; rps: number; p99: number }> = []
  let token = ''
  for (const mode of ['none', 'scoped', 'rls'] as const) {
    const child = fork(server, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...env, BENCH_MODE: mode },
    })
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message) => resolve((message as { port: number }).port))
      child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)))
    })
    const base = `http://127.0.0.1:${port}`
    try {
      if (!token) token = await signIn(base)
      const headers = { authorization: `Bearer ${token}`, 'x-tenant-id': tenantIds[0] ?? '' }
      const check = await fetch(`${base}/notes`, { headers })
      const body = (await check.json()) as { items?: unknown[] }
      if (check.status !== 200 || body.items?.length !== 20) {
        throw new Error(`${mode}: ${check.status} ${JSON.stringify(body)}`)
      }
      const options = { url: `${base}/notes`, connections: CONNECTIONS, headers }
      await autocannon({ ...options, duration: 2 })
      const result = await autocannon({ ...options, duration: DURATION_S })
      if (result.non2xx > 0) throw new Error(`${mode}: ${result.non2xx} non-2xx responses`)
      results.push({ mode, rps: result.requests.average, p99: result.latency.p99 })
    } finally {
      child.disconnect()
      await new Promise((resolve) => child.once('exit', resolve))
    }
  }

  const baseline = results[0]?.rps ?? 1
  const labels = {
    none: 'no tenancy (explicit filter, table owner)',
    scoped: 'tenancy, scoped client only (rls: false)',
    rls: 'tenancy with row-level security (app role)',
  }
  console.log(
    `node ${process.version}, ${CONNECTIONS} connections, ${DURATION_S} s per measurement`,
  )
  console.log('| variant | req/s | p99 latency | vs no tenancy |')
  console.log('|---|---|---|---|')
  for (const { mode, rps, p99 } of results) {
    console.log(
      `| ${labels[mode as keyof typeof labels]} | ${Math.round(rps)} | ${p99} ms | ${(rps / baseline).toFixed(2)}x |`,
    )
  }
} finally {
  await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
  await admin(`DROP ROLE IF EXISTS "${role}"`)
}

async function signIn(base: string): Promise<string> {
  const json = { 'content-type': 'application/json' }
  const credentials = JSON.stringify({
    email: 'bench@initech.test',
    password: 'correct horse battery',
  })
  await fetch(`${base}/auth/register`, { method: 'POST', headers: json, body: credentials })
  const { rows } = await admin(
    `INSERT INTO memberships (tenant_id, user_id, roles) SELECT '${tenantIds[0]}', id, '{owner}' FROM users WHERE email = 'bench@initech.test' RETURNING user_id`,
    ownerUrl.toString(),
  )
  if (rows.length !== 1) throw new Error('bench user missing')
  const response = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: json,
    body: credentials,
  })
  return ((await response.json()) as { accessToken: string }).accessToken
}
