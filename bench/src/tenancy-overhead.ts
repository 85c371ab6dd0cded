// What tenant isolation costs on routes that touch the database: the same authenticated read (20
// notes of one tenant) and write (one note) without tenancy (an explicit `where`, the reference),
// with the scoped client only (RLS off), and with row-level security in its two transaction
// scopes: `statement` (the default: each statement sent with the tenant, one round trip) and
// `request` (one interactive transaction per request). One PostgreSQL database, every server
// started at once in its own child process, measured in alternating rounds (the order rotates
// each round) so every ratio compares peers of one run; a round's ratios compare measurements a few
// seconds apart, and the table gives their median, which a burst of other work on a shared
// machine moves less than it moves the means. Usage:
//   pnpm --filter @acme/bench bench:tenancy   [BENCH_DURATION=4 BENCH_ROUNDS=8 BENCH_CONNECTIONS=20
//                                              BENCH_POOL=10 BENCH_VARIANTS=… BENCH_CPU_PROF=<dir>
//                                              BENCH_QUIET_WAIT=60]
// Before each measurement it waits (at most BENCH_QUIET_WAIT s) for the machine's CPUs to be
// mostly idle, since other work on a shared machine would land in one variant's numbers only.
// BENCH_CPU_PROF writes a CPU profile of each server for exactly each measured window
// (<kind>-<variant>-<round>.cpuprofile, for Chrome DevTools or speedscope).

import { type ChildProcess, fork } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ensureAppRole, migrateApply } from '@acme/cli'
import autocannon from 'autocannon'
import { exportJWK, generateKeyPair } from 'jose'
import pg from 'pg'
import { packageMigrations } from './package-migrations.js'
import type { TenancyVariant } from './tenancy-server.js'

const DURATION_S = Number(process.env.BENCH_DURATION ?? 4)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20)
const CPU_PROF = process.env.BENCH_CPU_PROF
const QUIET_WAIT_S = Number(process.env.BENCH_QUIET_WAIT ?? 60)
const ADMIN_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const ALL: TenancyVariant[] = ['none', 'scoped', 'statement', 'request']
// BENCH_VARIANTS=none,statement measures a subset (the reference, `none`, is always first).
const VARIANTS = ALL.filter(
  (variant) =>
    variant === 'none' || (process.env.BENCH_VARIANTS?.split(',').includes(variant) ?? true),
)
const LABELS: Record<TenancyVariant, string> = {
  none: 'plain Prisma, explicit `where` (table owner): reference',
  scoped: 'tenancy, scoped client only (`rls: false`)',
  statement: 'tenancy + RLS, statement scope (default)',
  request: "tenancy + RLS, `transaction.scope: 'request'`",
}
const migrationsDir = await packageMigrations('tenancy')
if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true })
const serverScript = fileURLToPath(new URL('./tenancy-server.ts', import.meta.url))

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

interface Server {
  variant: TenancyVariant
  child: ChildProcess
  base: string
}

function start(variant: TenancyVariant, env: NodeJS.ProcessEnv): Promise<Server> {
  const child = fork(serverScript, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...env, BENCH_MODE: variant },
  })
  return new Promise((resolve, reject) => {
    child.once('message', (message) =>
      resolve({ variant, child, base: `http://127.0.0.1:${(message as { port: number }).port}` }),
    )
    child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)))
  })
}

/** Sends `ask` to the server and waits for the answer that has `key`. */
function ask<T>(server: Server, message: object, key: string): Promise<T> {
  return new Promise((resolve) => {
    const listen = (answer: unknown) => {
      if (!(answer && typeof answer === 'object' && key in answer)) return
      server.child.off('message', listen)
      resolve((answer as Record<string, T>)[key] as T)
    }
    server.child.on('message', listen)
    server.child.send(message)
  })
}

async function cpuOf(server: Server): Promise<number> {
  const cpu = await ask<{ user: number; system: number }>(server, { cpu: true }, 'cpu')
  return cpu.user + cpu.system
}

/**
 * CPU time (ms) of the PostgreSQL backends serving the benchmark database, from /proc (Linux);
 * other databases on the server (other work on the machine) are not counted.
 */
async function postgresCpu(): Promise<Map<number, number>> {
  const { rows } = await admin(
    `SELECT pid FROM pg_stat_activity WHERE datname = '${database}' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
  )
  const cpu = new Map<number, number>()
  for (const { pid } of rows as Array<{ pid: number }>) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
      // utime and stime, in clock ticks (100 per second), are fields 14 and 15 of the line.
      cpu.set(pid, (Number(fields[11]) + Number(fields[12])) * 10)
    } catch {
      // The backend ended meanwhile.
    }
  }
  return cpu
}

function cpuSpent(before: Map<number, number>, after: Map<number, number>): number {
  let spent = 0
  for (const [pid, ms] of after) spent += ms - (before.get(pid) ?? 0)
  return spent
}

interface Measure {
  rps: number
  p99: number
  /** Server-side CPU (user + system) per request, in ms. */
  cpuMs: number
  /** PostgreSQL's CPU per request (the benchmark database's backends), in ms. */
  pgMs: number
}

const warmed = new Set<string>()

/** Busy share of the machine's CPUs over `ms`, from /proc/stat (Linux; 0 elsewhere). */
async function busy(ms: number): Promise<number> {
  const sample = () => {
    try {
      const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.split(/\s+/) ?? []
      const ticks = fields.map(Number)
      return { idle: (ticks[3] ?? 0) + (ticks[4] ?? 0), total: ticks.reduce((a, b) => a + b, 0) }
    } catch {
      return { idle: 0, total: 0 }
    }
  }
  const before = sample()
  await new Promise((resolve) => setTimeout(resolve, ms))
  const after = sample()
  const total = after.total - before.total
  return total > 0 ? 1 - (after.idle - before.idle) / total : 0
}

/**
 * On a shared machine, waits (up to BENCH_QUIET_WAIT s) until other work leaves most of the CPUs
 * idle, so a burst elsewhere does not land in one variant's measurement only.
 */
let noisy = 0
async function quiet(): Promise<void> {
  const until = Date.now() + QUIET_WAIT_S * 1000
  while ((await busy(500)) > 0.35) {
    if (Date.now() > until) {
      noisy += 1
      return
    }
  }
}

async function measure(
  server: Server,
  kind: 'read' | 'write',
  headers: Record<string, string>,
  round: number,
) {
  const options =
    kind === 'read'
      ? { url: `${server.base}/notes`, headers }
      : {
          url: `${server.base}/notes`,
          method: 'POST' as const,
          headers: { ...headers, 'content-type': 'application/json' },
          body: '{}',
        }
  await quiet()
  // The servers stay up between rounds: a long warm-up the first time, a short one after.
  const key = `${server.variant} ${kind}`
  await autocannon({ ...options, connections: CONNECTIONS, duration: warmed.has(key) ? 1 : 3 })
  warmed.add(key)
  if (CPU_PROF) await ask(server, { profile: 'start' }, 'profiling')
  const before = await cpuOf(server)
  const pgBefore = await postgresCpu()
  const result = await autocannon({ ...options, connections: CONNECTIONS, duration: DURATION_S })
  const cpu = (await cpuOf(server)) - before
  const pg = cpuSpent(pgBefore, await postgresCpu())
  if (CPU_PROF) {
    const file = `${CPU_PROF}/${kind}-${server.variant}-${round + 1}.cpuprofile`
    await ask(server, { profile: 'stop', file }, 'profiled')
  }
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${server.variant} ${kind}: ${result.non2xx} non-2xx, ${result.errors} errors`)
  }
  return {
    rps: result.requests.average,
    p99: result.latency.p99,
    cpuMs: cpu / 1000 / Math.max(1, result.requests.total),
    pgMs: pg / Math.max(1, result.requests.total),
  } satisfies Measure
}

await admin(`CREATE DATABASE "${database}"`)
const servers: Server[] = []
try {
  await migrateApply({ migrationsDir, target: { url: ownerUrl.toString() } })
  await ensureAppRole({ url: ownerUrl.toString(), role, password })
  // Two tenants of 1000 notes each: the read route returns 20 of its own.
  const tenantIds: string[] = []
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
  for (const variant of VARIANTS) servers.push(await start(variant, env))
  // The servers share the signing key: one user, one token for all.
  const token = await signIn(servers[0]?.base ?? '', tenantIds[0] ?? '')
  const headers = { authorization: `Bearer ${token}`, 'x-tenant-id': tenantIds[0] ?? '' }
  for (const server of servers) {
    const check = await fetch(`${server.base}/notes`, { headers })
    const body = (await check.json()) as { items?: unknown[] }
    if (check.status !== 200 || body.items?.length !== 20) {
      throw new Error(`${server.variant}: ${check.status} ${JSON.stringify(body)}`)
    }
  }

  const results = new Map<string, Measure[]>()
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ['read', 'write'] as const) {
      for (let i = 0; i < servers.length; i++) {
        const server = servers[(i + round) % servers.length] as Server
        const result = await measure(server, kind, headers, round)
        const key = `${kind} ${server.variant}`
        results.set(key, [...(results.get(key) ?? []), result])
        console.error(
          `round ${round + 1} ${key}: ${Math.round(result.rps)} req/s, p99 ${result.p99} ms, ${result.cpuMs.toFixed(2)} ms Node CPU/req, ${result.pgMs.toFixed(2)} ms PostgreSQL CPU/req`,
        )
      }
    }
  }

  if (noisy > 0) {
    console.log(
      `${noisy} of ${ROUNDS * VARIANTS.length * 2} measurements started while other work kept the CPUs busy (after ${QUIET_WAIT_S} s of waiting)`,
    )
  }
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b)
    const middle = Math.floor(sorted.length / 2)
    return sorted.length % 2
      ? (sorted[middle] ?? 0)
      : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
  }
  console.log(
    `node ${process.version}, ${CONNECTIONS} connections, pool of ${process.env.BENCH_POOL ?? 10}, ${ROUNDS} alternating rounds of ${DURATION_S} s per measurement`,
  )
  for (const kind of ['read', 'write'] as const) {
    const reference = results.get(`${kind} none`) ?? []
    console.log('')
    console.log(
      `| ${kind === 'read' ? 'GET /notes (20 rows)' : 'POST /notes (one row)'} | ratio to reference, per round | median ratio | mean req/s | p99 (mean) | Node CPU/req | PostgreSQL CPU/req |`,
    )
    console.log('|---|---|---|---|---|---|---|')
    for (const variant of VARIANTS) {
      const runs = results.get(`${kind} ${variant}`) ?? []
      const ratios = runs.map((m, round) => m.rps / (reference[round]?.rps ?? m.rps))
      console.log(
        `| ${LABELS[variant]} | ${ratios.map((ratio) => ratio.toFixed(2)).join(', ')} | **${median(ratios).toFixed(2)}x** | ${Math.round(mean(runs.map((m) => m.rps)))} | ${Math.round(mean(runs.map((m) => m.p99)))} ms | ${mean(runs.map((m) => m.cpuMs)).toFixed(2)} ms | ${mean(runs.map((m) => m.pgMs)).toFixed(2)} ms |`,
      )
    }
  }
} finally {
  for (const server of servers) {
    server.child.disconnect()
    await new Promise((resolve) => server.child.once('exit', resolve))
  }
  await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`)
  await admin(`DROP ROLE IF EXISTS "${role}"`)
}

async function signIn(base: string, tenantId: string): Promise<string> {
  const json = { 'content-type': 'application/json' }
  const credentials = JSON.stringify({
    email: 'bench@initech.test',
    password: 'correct horse battery',
  })
  await fetch(`${base}/auth/register`, { method: 'POST', headers: json, body: credentials })
  const { rows } = await admin(
    `INSERT INTO memberships (tenant_id, user_id, roles) SELECT '${tenantId}', id, '{owner}' FROM users WHERE email = 'bench@initech.test' RETURNING user_id`,
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
