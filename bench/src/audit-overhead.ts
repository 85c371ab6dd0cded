// What the audit log costs: the same authenticated, tenant-scoped write (create one project)
// without and with its audit entry, in both of request.db's modes (a statement of its own, and an
// explicit transaction where the entry commits atomically with the change), and how long the
// audit log's list route takes on a tenant holding one million entries. The writes go to one
// tenant, and (the transaction mode again) spread over BENCH_TENANTS tenants. One server in a
// child process, the write routes measured in alternating rounds (the order rotates each round).
//   pnpm --filter @acme/bench bench:audit   [BENCH_DURATION=5 BENCH_ROUNDS=4 BENCH_CONNECTIONS=10
//                                            BENCH_ENTRIES=1000000 BENCH_TENANTS=20]
import { type ChildProcess, fork } from 'node:child_process'
import { createHash } from 'node:crypto'
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
const WRITES = [
  'plain',
  'plain-audited',
  'tx',
  'tx-audited',
  'tx-spread',
  'tx-audited-spread',
] as const
type Write = (typeof WRITES)[number]
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

function cpuOf(server: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    server.once('message', (message) => {
      const { cpu } = message as { cpu: { user: number; system: number } }
      resolve(cpu.user + cpu.system)
    })
    server.send({ cpu: true })
  })
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
  await owner('ANALYZE audit_events')
  await owner('ANALYZE audit_event_targets')
  const seedSeconds = (performance.now() - seeded) / 1000

  for (const route of WRITES) {
    const check = await json(base, 'POST', `/projects/${routeOf(route)}`, writer)
    if (check.status !== 200)
      throw new Error(`${route}: ${check.status} ${JSON.stringify(check.body)}`)
  }
  const writes = new Map<Write, Array<{ rps: number; p99: number; cpuUs: number }>>()
  for (let round = 0; round < ROUNDS; round += 1) {
    for (let i = 0; i < WRITES.length; i += 1) {
      const route = WRITES[(i + round) % WRITES.length] as Write
      let next = 0
      const options = {
        url: `${base}/projects/${routeOf(route)}`,
        method: 'POST' as const,
        headers: writer,
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
      await autocannon({ ...options, duration: 1 })
      const before = await cpuOf(child)
      const result = await autocannon({ ...options, duration: DURATION_S })
      const cpu = (await cpuOf(child)) - before
      if (result.non2xx > 0 || result.errors > 0) {
        throw new Error(`${route}: ${result.non2xx} non-2xx, ${result.errors} errors`)
      }
      const row = {
        rps: result.requests.average,
        p99: result.latency.p99,
        cpuUs: cpu / result.requests.total,
      }
      writes.set(route, [...(writes.get(route) ?? []), row])
      console.error(
        `round ${round + 1} ${route}: ${Math.round(row.rps)} req/s, p99 ${row.p99} ms, ${Math.round(row.cpuUs)} µs CPU/req`,
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
  for (const [label, path] of queries) {
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
  const of = (route: Write) => writes.get(route) ?? []
  const ratio = (route: Write, reference: Write) =>
    mean(of(route).map((row, i) => row.rps / (of(reference)[i]?.rps ?? row.rps)))
  console.log(
    `node ${process.version}, ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${DURATION_S} s\n`,
  )
  console.log(
    '| write route (create one project) | req/s | ratio to the same without audit | p99 (ms) | server CPU per request (µs) |',
  )
  console.log('|---|---:|---:|---:|---:|')
  const label: Record<Write, string> = {
    plain: '`request.db` create (reference)',
    'plain-audited': '`request.db` create, then `record(request.db, …)`',
    tx: '`request.db.$transaction`: create (reference)',
    'tx-audited': '`request.db.$transaction`: create and `record(tx, …)`',
    'tx-spread': `the same, over ${TENANTS} tenants (reference)`,
    'tx-audited-spread': `the same with \`record(tx, …)\`, over ${TENANTS} tenants`,
  }
  const referenceOf: Record<Write, Write> = {
    plain: 'plain',
    'plain-audited': 'plain',
    tx: 'tx',
    'tx-audited': 'tx',
    'tx-spread': 'tx-spread',
    'tx-audited-spread': 'tx-spread',
  }
  for (const route of WRITES) {
    const reference = referenceOf[route]
    console.log(
      `| ${label[route]} | ${Math.round(mean(of(route).map((row) => row.rps)))} | ${ratio(route, reference).toFixed(2)} | ${Math.max(...of(route).map((row) => row.p99))} | ${Math.round(mean(of(route).map((row) => row.cpuUs)))} |`,
    )
  }
  console.log(
    `\n${ENTRIES.toLocaleString('en')} entries seeded in ${seedSeconds.toFixed(0)} s; each query alone (1 connection, ${DURATION_S} s):\n`,
  )
  console.log('| GET /audit/events on the 1M-entry tenant | rows | mean (ms) | p99 (ms) |')
  console.log('|---|---:|---:|---:|')
  for (const row of reads)
    console.log(`| ${row.label} | ${row.rows} | ${row.mean.toFixed(1)} | ${row.p99} |`)
} finally {
  child?.disconnect()
  await new Promise((resolve) => setTimeout(resolve, 500))
  await db.drop()
}

function md5Of(n: number): string {
  // The seeded targets are md5(n::text): the same digest, computed here.
  return createHash('md5').update(String(n)).digest('hex')
}
