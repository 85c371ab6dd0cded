// What the audit log costs: the same authenticated, tenant-scoped write (create one project)
// without and with its audit entry, in both of request.db's modes (a statement of its own, and an
// explicit transaction where the entry commits atomically with the change), and how long the
// audit log's list route takes on a tenant holding one million entries. The writes go to one
// tenant, and (the transaction mode again) spread over BENCH_TENANTS tenants. One server in a
// child process, the write routes measured in alternating rounds (the order rotates each round).
//   pnpm --filter @acme/bench bench:audit   [BENCH_DURATION=5 BENCH_ROUNDS=4 BENCH_CONNECTIONS=10
//                                            BENCH_ENTRIES=1000000 BENCH_TENANTS=20
//                                            BENCH_WRITES=plain,plain-audited BENCH_CPU_PROF=<dir>]
// BENCH_ENTRIES=0 skips the reads; BENCH_WRITES measures only the writes named; BENCH_CPU_PROF
// writes a CPU profile of the server for exactly each measured window. Besides req/s, each write
// reports the server's CPU, PostgreSQL's (the backends of the benchmark database, from /proc),
// and the round trips and statements the server sent, per request.
import { type ChildProcess, fork } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createAppRoleDatabase } from '@acme/test-support'
import autocannon from 'autocannon'
import { exportJWK, generateKeyPair } from 'jose'
import pg from 'pg'
import { packageMigrations } from './package-migrations.js'

const DURATION_S = Number(process.env.BENCH_DURATION ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10)
const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 1_000_000)
const TENANTS = Number(process.env.BENCH_TENANTS ?? 20)
const ALL_WRITES = [
  'plain',
  'plain-audited',
  'tx',
  'tx-audited',
  'tx-two',
  'tx-insert',
  'tx-function',
  'tx-spread',
  'tx-audited-spread',
] as const
type Write = (typeof ALL_WRITES)[number]
const WRITES = ALL_WRITES.filter(
  (write) => !process.env.BENCH_WRITES || process.env.BENCH_WRITES.split(',').includes(write),
)
const CPU_PROF = process.env.BENCH_CPU_PROF
const QUIET_WAIT_S = Number(process.env.BENCH_QUIET_WAIT ?? 60)
if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true })
/** The route a write posts to: a spread write is the same route, for many tenants. */
const routeOf = (write: Write) => write.replace('-spread', '')

const migrationsDir = await packageMigrations('audit')
const db = await createAppRoleDatabase({ migrationsDir, label: 'bench_audit' })
let child: ChildProcess | undefined

async function owner<T extends pg.QueryResultRow>(text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: db.owner.url })
  await client.connect()
  try {
    return (await client.query<T>(text, values)).rows
  } finally {
    await client.end()
  }
}

async function json(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: response.status, body: (await response.json()) as Record<string, unknown> }
}

interface Usage {
  cpuUs: number
  syncs: number
  executes: number
}

function usageOf(server: ChildProcess): Promise<Usage> {
  return new Promise((resolve) => {
    server.once('message', (message) => {
      const { cpu, sent } = message as {
        cpu: { user: number; system: number }
        sent: { syncs: number; executes: number }
      }
      resolve({ cpuUs: cpu.user + cpu.system, ...sent })
    })
    server.send({ cpu: true })
  })
}

function ask(server: ChildProcess, message: object, reply: string): Promise<void> {
  return new Promise((resolve) => {
    const listen = (answer: unknown) => {
      if ((answer as Record<string, unknown>)[reply] === undefined) return
      server.off('message', listen)
      resolve()
    }
    server.on('message', listen)
    server.send(message)
  })
}

/** CPU time (µs) of each backend serving the benchmark database, from /proc. */
async function postgresCpu(): Promise<Map<number, number>> {
  const rows = await owner<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
       AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
  )
  const cpu = new Map<number, number>()
  for (const { pid } of rows) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
      // utime and stime, in clock ticks (100 per second), are fields 14 and 15 of the line.
      cpu.set(pid, (Number(fields[11]) + Number(fields[12])) * 10_000)
    } catch {
      // The backend ended meanwhile.
    }
  }
  return cpu
}

/** The share of the machine's CPU time spent busy over `ms`, from /proc/stat. */
async function busy(ms: number): Promise<number> {
  const sample = () => {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]?.split(/\s+/) ?? []
    const ticks = fields.map(Number)
    return { idle: (ticks[3] ?? 0) + (ticks[4] ?? 0), total: ticks.reduce((a, b) => a + b, 0) }
  }
  const before = sample()
  await new Promise((resolve) => setTimeout(resolve, ms))
  const after = sample()
  const total = after.total - before.total
  return total > 0 ? 1 - (after.idle - before.idle) / total : 0
}

/**
 * Waits (up to BENCH_QUIET_WAIT seconds) for the CPUs to be mostly idle: other work on a shared
 * machine would otherwise land in one route's numbers only. Counts the measurements it gave up on.
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

function cpuSpent(before: Map<number, number>, after: Map<number, number>): number {
  let spent = 0
  for (const [pid, us] of after) spent += us - (before.get(pid) ?? 0)
  return spent
}

try {
  const { privateKey } = await generateKeyPair('EdDSA', { extractable: true })
  const jwk = { ...(await exportJWK(privateKey)), kid: 'bench', alg: 'EdDSA' }
  child = fork(fileURLToPath(new URL('./audit-server.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_APP_URL: db.app.url, BENCH_JWT_KEYS: JSON.stringify([jwk]) },
  })
  const port = await new Promise<number>((resolve, reject) => {
    child?.once('message', (message) => resolve((message as { port: number }).port))
    child?.once('exit', (code) => reject(new Error(`audit server exited with ${code}`)))
  })
  const base = `http://127.0.0.1:${port}`
  const credentials = { email: 'bench@initech.test', password: 'correct horse battery' }
  await json(base, 'POST', '/auth/register', {}, credentials)
  const login = await json(base, 'POST', '/auth/login', {}, credentials)
  const authorization = `Bearer ${login.body.accessToken as string}`
  const userId = (login.body.user as { id: string }).id
  const tenant = async (name: string) =>
    (await json(base, 'POST', '/tenants', { authorization }, { name })).body.id as string
  const writer = { authorization, 'x-tenant-id': await tenant('Writes') }
  const spread: string[] = []
  for (let i = 0; i < TENANTS; i += 1) spread.push(await tenant(`Writes ${i + 1}`))
  const reader = { authorization, 'x-tenant-id': await tenant('Million') }

  // One million entries for the reading tenant, as the owner (no policy applies to it), after the
  // few the tenant's creation recorded: one a second, the newest now, so time grows with seq as
  // it does in a real log. Their hashes are not a chain: the list route never checks.
  const seeded = performance.now()
  if (ENTRIES > 0)
    await owner(
      `WITH entry AS (
       INSERT INTO audit_events (id, tenant_id, seq, action, action_version, occurred_at, actor_type,
         actor_id, actor, targets, metadata, ip, user_agent, request_id, prev_hash, hash)
       SELECT gen_random_uuid(), $1::uuid, n + 1000,
         (ARRAY['project.created', 'member.added', 'role.changed', 'auth.login'])[1 + n % 4], 1,
         now() - make_interval(secs => $3::int - n), 'user', $2::text, jsonb_build_object('type', 'user', 'id', $2::text),
         jsonb_build_array(jsonb_build_object('type', 'project', 'id', md5(n::text))),
         '{}'::jsonb, '203.0.113.7', 'bench', md5('r' || n), repeat('0', 64), md5(n::text) || md5(n::text)
       FROM generate_series(1, $3::int) n
       RETURNING tenant_id, pos, targets
     )
     INSERT INTO audit_event_targets (tenant_id, target_id, pos)
     SELECT tenant_id, targets->0->>'id', pos FROM entry`,
      [reader['x-tenant-id'], userId, ENTRIES],
    )
  if (ENTRIES > 0) await owner('ANALYZE audit_events')
  if (ENTRIES > 0) await owner('ANALYZE audit_event_targets')
  const seedSeconds = (performance.now() - seeded) / 1000

  const body = { name: 'bench' }
  for (const route of WRITES) {
    const check = await json(base, 'POST', `/projects/${routeOf(route)}`, writer, body)
    if (check.status !== 200)
      throw new Error(`${route}: ${check.status} ${JSON.stringify(check.body)}`)
  }
  const writes = new Map<
    Write,
    Array<{
      rps: number
      p99: number
      cpuUs: number
      pgUs: number
      syncs: number
      executes: number
    }>
  >()
  for (let round = 0; round < ROUNDS; round += 1) {
    for (let i = 0; i < WRITES.length; i += 1) {
      const route = WRITES[(i + round) % WRITES.length] as Write
      let next = 0
      const options = {
        url: `${base}/projects/${routeOf(route)}`,
        method: 'POST' as const,
        headers: { ...writer, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        connections: CONNECTIONS,
        // Spread: each request for the next of the tenants, in turn.
        ...(route.endsWith('-spread')
          ? {
              requests: [
                {
                  setupRequest: (request: autocannon.Request) => {
                    next = (next + 1) % spread.length
                    return {
                      ...request,
                      headers: { ...request.headers, 'x-tenant-id': spread[next] as string },
                    }
                  },
                },
              ],
            }
          : {}),
      }
      await quiet()
      await autocannon({ ...options, duration: 1 })
      if (CPU_PROF) await ask(child, { profile: 'start' }, 'profiling')
      const before = await usageOf(child)
      const pgBefore = await postgresCpu()
      const result = await autocannon({ ...options, duration: DURATION_S })
      const after = await usageOf(child)
      const pg = cpuSpent(pgBefore, await postgresCpu())
      if (CPU_PROF) {
        await ask(
          child,
          { profile: 'stop', file: `${CPU_PROF}/${route}-${round + 1}.cpuprofile` },
          'profiled',
        )
      }
      if (result.non2xx > 0 || result.errors > 0) {
        throw new Error(`${route}: ${result.non2xx} non-2xx, ${result.errors} errors`)
      }
      const total = Math.max(1, result.requests.total)
      const row = {
        rps: result.requests.average,
        p99: result.latency.p99,
        cpuUs: (after.cpuUs - before.cpuUs) / total,
        pgUs: pg / total,
        syncs: (after.syncs - before.syncs) / total,
        executes: (after.executes - before.executes) / total,
      }
      writes.set(route, [...(writes.get(route) ?? []), row])
      console.error(
        `round ${round + 1} ${route}: ${Math.round(row.rps)} req/s, p99 ${row.p99} ms, ${Math.round(row.cpuUs)} µs server CPU/req, ${Math.round(row.pgUs)} µs PostgreSQL CPU/req, ${row.syncs.toFixed(2)} round trips, ${row.executes.toFixed(2)} statements/req`,
      )
    }
  }

  const queries: Array<[string, string]> = [
    ['newest page (50)', '/audit/events?limit=50'],
    ['by action (50)', '/audit/events?action=role.changed&limit=50'],
    ['by target', `/audit/events?targetId=${md5Of(123_456)}&limit=50`],
    ['free text, common (50)', '/audit/events?q=member&limit=50'],
    // One entry holds it, far down: the first page reads its window and answers with a cursor.
    ['free text, one entry (a page)', `/audit/events?q=${md5Of(654_321).slice(0, 12)}&limit=50`],
    [
      'by actor and day (50)',
      `/audit/events?actorId=${userId}&from=${new Date(Date.now() - 86_400_000 * 3).toISOString()}&to=${new Date(Date.now() - 86_400_000 * 2).toISOString()}&limit=50`,
    ],
  ]
  const reads: Array<{ label: string; mean: number; p99: number; rows: number }> = []
  for (const [label, path] of ENTRIES > 0 ? queries : []) {
    const sample = await json(base, 'GET', path, reader)
    if (sample.status !== 200)
      throw new Error(`${label}: ${sample.status} ${JSON.stringify(sample.body)}`)
    const result = await autocannon({
      url: `${base}${path}`,
      headers: reader,
      connections: 1,
      duration: DURATION_S,
    })
    reads.push({
      label,
      mean: result.latency.mean,
      p99: result.latency.p99,
      rows: (sample.body.items as unknown[]).length,
    })
  }

  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b)
    const middle = Math.floor(sorted.length / 2)
    return sorted.length % 2
      ? (sorted[middle] ?? 0)
      : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
  }
  const of = (route: Write) => writes.get(route) ?? []
  // Each round's ratio compares two measurements seconds apart: the median is what rounds agree on.
  const ratios = (route: Write, reference: Write) =>
    of(route).map((row, i) => row.rps / (of(reference)[i]?.rps ?? row.rps))
  console.log(
    `node ${process.version}, ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION_S} s\n`,
  )
  console.log(
    '| write route (create one project) | ratio per round | median ratio | mean req/s | p99 (ms) | server CPU/req (µs) | PostgreSQL CPU/req (µs) | round trips/req | statements/req |',
  )
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|')
  const label: Record<Write, string> = {
    plain: '`request.db` create (reference)',
    'plain-audited': '`request.db` create, then `record(request.db, …)`',
    tx: '`request.db.$transaction`: create (reference)',
    'tx-audited': '`request.db.$transaction`: create and `record(tx, …)`',
    'tx-two': '`request.db.$transaction`: create, and a second create in place of the entry',
    'tx-insert':
      '`request.db.$transaction`: create, and the entry as the INSERT with a CTE sent before',
    'tx-function':
      '`request.db.$transaction`: create, and the same entry through `acme_audit_append`',
    'tx-spread': `the same, over ${TENANTS} tenants (reference)`,
    'tx-audited-spread': `the same with \`record(tx, …)\`, over ${TENANTS} tenants`,
  }
  const referenceOf: Record<Write, Write> = {
    plain: 'plain',
    'plain-audited': 'plain',
    tx: 'tx',
    'tx-audited': 'tx',
    'tx-two': 'tx',
    'tx-insert': 'tx',
    'tx-function': 'tx',
    'tx-spread': 'tx-spread',
    'tx-audited-spread': 'tx-spread',
  }
  for (const route of WRITES) {
    const rows = of(route)
    const perRound = ratios(route, referenceOf[route])
    const average = (pick: (row: (typeof rows)[number]) => number) => mean(rows.map(pick))
    console.log(
      `| ${label[route]} | ${perRound.map((value) => value.toFixed(2)).join(', ')} | **${median(perRound).toFixed(2)}** | ${Math.round(average((row) => row.rps))} | ${Math.max(...rows.map((row) => row.p99))} | ${Math.round(average((row) => row.cpuUs))} | ${Math.round(average((row) => row.pgUs))} | ${average((row) => row.syncs).toFixed(2)} | ${average((row) => row.executes).toFixed(2)} |`,
    )
  }
  if (noisy > 0) {
    console.log(
      `\n${noisy} of ${ROUNDS * WRITES.length} measurements started while other work kept the CPUs busy (after ${QUIET_WAIT_S} s of waiting)`,
    )
  }
  if (ENTRIES > 0) {
    console.log(
      `\n${ENTRIES.toLocaleString('en')} entries seeded in ${seedSeconds.toFixed(0)} s; each query alone (1 connection, ${DURATION_S} s):\n`,
    )
    console.log('| GET /audit/events on the 1M-entry tenant | rows | mean (ms) | p99 (ms) |')
    console.log('|---|---:|---:|---:|')
    for (const row of reads)
      console.log(`| ${row.label} | ${row.rows} | ${row.mean.toFixed(1)} | ${row.p99} |`)
  }
} finally {
  child?.disconnect()
  await new Promise((resolve) => setTimeout(resolve, 500))
  await db.drop()
}

function md5Of(n: number): string {
  // The seeded targets are md5(n::text): the same digest, computed here.
  return createHash('md5').update(String(n)).digest('hex')
}
