// Past one machine, on one machine: three instances of the starter behind haproxy, PostgreSQL
// through PgBouncer in transaction mode, Redis Cluster on three masters, all real processes on
// loopback. Runs the checks of docs/deployment.md, measures throughput with one, two and three
// instances, kills one instance under load, and prints a report. Exit code 1 when a check fails.
//
//   pnpm build && pnpm topology          # TOPOLOGY_DURATION (s, default 10), TOPOLOGY_ROUNDS (3)
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort, type RedisCluster, startPgBouncer, startRedisCluster } from '@acme/test-kit'
import autocannon from 'autocannon'
import {
  isolation,
  logoutEverywhere,
  mailsDelivered,
  type Outcome,
  roleChange,
  sharedLimitAndPlan,
} from './checks.js'
import { call, type Owner, ownerOfNewTenant, signUp } from './client.js'
import {
  generateSigningKeys,
  type Instance,
  STARTER_DIR,
  setPlan,
  startInstance,
  stopInstance,
} from './instances.js'
import { createDatabase, dropDatabase, POSTGRES, startHaproxy, versionOf } from './services.js'

const DURATION_S = Number(process.env.TOPOLOGY_DURATION ?? 10)
const ROUNDS = Number(process.env.TOPOLOGY_ROUNDS ?? 3)
const CONNECTIONS = 30
const DATABASE = 'acme_topology'
const ROLE = 'acme_topology_app'

const outcomes: Outcome[] = []
const stops: Array<() => Promise<void>> = []
const dir = mkdtempSync(join(tmpdir(), 'acme-topology-'))
const mailDir = join(dir, 'mail')
mkdirSync(mailDir)

function note(line: string): void {
  process.stdout.write(`${line}\n`)
}

async function main(): Promise<void> {
  note(
    `node ${process.version}; ${versionOf('pgbouncer', ['--version'])}; ${versionOf('haproxy', ['-v'])}; ${versionOf('redis-server', ['--version'])}`,
  )

  await createDatabase(DATABASE, ROLE, join(STARTER_DIR, 'prisma/migrations'))
  stops.push(() => dropDatabase(DATABASE))
  const cluster: RedisCluster = await startRedisCluster({ nodes: 3 })
  stops.push(() => cluster.stop())
  const bouncer = await startPgBouncer({
    upstream: `postgres://${ROLE}@127.0.0.1:5432/${DATABASE}`,
    poolSize: 20,
    maxClientConn: 1_000,
  })
  stops.push(() => bouncer.stop())
  note(
    `Redis Cluster masters on ${cluster.ports.join(', ')}; PgBouncer (transaction pooling, 20 server connections) on ${bouncer.port}`,
  )

  const [p1, p2, p3, lbAll, lbTwo, lbOne] = await Promise.all(
    [1, 2, 3, 4, 5, 6].map(() => freePort()),
  )
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    TRUST_PROXY: 'true',
    PUBLIC_BASE_URL: `http://127.0.0.1:${lbAll}`,
    // Migrations and the role check go straight to PostgreSQL; the app's statements through PgBouncer.
    DATABASE_URL: `${POSTGRES}/${DATABASE}`,
    APP_DATABASE_URL: bouncer.url,
    REDIS_CLUSTER_URLS: cluster.urls.join(','),
    MAIL_DIR: mailDir,
    JWT_PRIVATE_KEYS: await generateSigningKeys(),
    RATE_LIMIT_MAX: '100000000',
    WEBHOOKS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  }
  const ports = [p1, p2, p3] as number[]
  const instances: Instance[] = []
  for (const [i, port] of ports.entries())
    instances.push(await startInstance(`app${i + 1}`, port, env))
  stops.push(async () => {
    await Promise.all(instances.map(stopInstance))
  })
  const proxy = await startHaproxy(dir, [
    { port: lbAll as number, servers: ports },
    { port: lbTwo as number, servers: ports.slice(0, 2) },
    { port: lbOne as number, servers: ports.slice(0, 1) },
  ])
  stops.push(() => proxy.stop())
  note(
    `instances on ${ports.join(', ')}; haproxy: 3 instances on ${lbAll}, 2 on ${lbTwo}, 1 on ${lbOne}`,
  )

  const base = `http://127.0.0.1:${lbAll}`
  const direct = ports.map((port) => `http://127.0.0.1:${port}`)

  // A world: tenants with three projects each, every one named after its tenant.
  const owners: Owner[] = []
  for (let i = 0; i < 24; i += 1) {
    const owner = await ownerOfNewTenant(
      base,
      `owner${i}@tenant${i}.example`,
      `198.51.100.${i + 1}`,
    )
    for (let n = 0; n < 3; n += 1) {
      const created = await call(base, 'POST', '/projects', {
        headers: owner.headers,
        body: { name: `${owner.tenantId}-${n}` },
      })
      if (created.status !== 201) throw new Error(`project: ${created.status}`)
    }
    owners.push(owner)
  }
  // Enterprise (10,000 requests a minute) for the load; the last owner stays on Starter.
  const loadTenants = owners.slice(0, -1)
  await setPlan(
    env,
    'enterprise',
    loadTenants.map((owner) => owner.tenantId),
  )

  outcomes.push(await isolation(base, loadTenants, 2_000))
  outcomes.push(
    await mailsDelivered(
      mailDir,
      owners.map((owner) => owner.email),
      60_000,
      'jobs on Redis Cluster run once: every account mailed once per message',
      true,
    ),
  )
  const member = await signUp(base, 'member@people.example', '198.51.100.200')
  outcomes.push(
    await logoutEverywhere(direct, await signUp(base, 'leaver@people.example', '198.51.100.201')),
  )
  outcomes.push(await roleChange(direct, owners[0] as Owner, member, mailDir))
  const starterOwner = owners.at(-1) as Owner
  outcomes.push(
    ...(await sharedLimitAndPlan(direct, starterOwner, () =>
      setPlan(env, 'enterprise', [starterOwner.tenantId]),
    )),
  )

  // Throughput with one, two and three instances, rounds alternating.
  const frontends = [
    { label: '1 instance', port: lbOne as number },
    { label: '2 instances', port: lbTwo as number },
    { label: '3 instances', port: lbAll as number },
  ]
  const results = new Map<string, Array<{ rps: number; p99: number; failed: number }>>()
  for (let round = 0; round < ROUNDS; round += 1) {
    const order = frontends.map(
      (_, i) => frontends[(i + round) % frontends.length] as (typeof frontends)[number],
    )
    for (const frontend of order) {
      await load(frontend.port, 2, loadTenants)
      const result = await load(frontend.port, DURATION_S, loadTenants)
      const entry = {
        rps: result.requests.average,
        p99: result.latency.p99,
        failed: result.non2xx + result.errors,
      }
      results.set(frontend.label, [...(results.get(frontend.label) ?? []), entry])
      note(
        `round ${round + 1}: ${frontend.label} ${Math.round(entry.rps)} req/s, p99 ${entry.p99} ms, ${entry.failed} failed`,
      )
    }
  }

  // One instance killed with SIGKILL under load, just after sign-ups queued their mails.
  const lateEmails = Array.from({ length: 20 }, (_, i) => `late${i}@people.example`)
  const loading = load(lbAll as number, 12, loadTenants)
  await sleep(3_000)
  await Promise.all(
    lateEmails.map((email, i) =>
      call(base, 'POST', '/auth/register', {
        headers: { 'x-forwarded-for': `203.0.113.${i + 1}` },
        body: { email, password: 'correct horse battery staple' },
      }),
    ),
  )
  const victim = instances[2] as Instance
  victim.child.kill('SIGKILL')
  note(`SIGKILL sent to ${victim.name} (${victim.port}) under load: ${await victim.exited}`)
  const underKill = await loading
  outcomes.push({
    check: 'one instance SIGKILLed under load: no request fails but those in flight on it',
    pass: underKill.errors + underKill.non2xx <= CONNECTIONS,
    detail: `${underKill.requests.total} requests in 12 s: ${underKill.non2xx} non-2xx, ${underKill.errors} errors (at most ${CONNECTIONS} could be in flight on it)`,
  })
  outcomes.push(
    await mailsDelivered(
      mailDir,
      lateEmails,
      90_000,
      'no job lost when an instance is SIGKILLed: mails of sign-ups queued just before',
      false,
    ),
  )

  note(
    '\n| throughput, GET /projects (auth, tenant, permission, RLS read) | req/s (mean of rounds) | per round | p99 (ms) | failed |',
  )
  note('|---|---:|---|---:|---:|')
  for (const frontend of frontends) {
    const rows = results.get(frontend.label) ?? []
    const mean = rows.reduce((sum, row) => sum + row.rps, 0) / rows.length
    note(
      `| ${frontend.label} | ${Math.round(mean)} | ${rows.map((row) => Math.round(row.rps)).join(', ')} | ${Math.max(...rows.map((row) => row.p99))} | ${rows.reduce((sum, row) => sum + row.failed, 0)} |`,
    )
  }
  note('\n| check | result | detail |')
  note('|---|---|---|')
  for (const outcome of outcomes)
    note(`| ${outcome.check} | ${outcome.pass ? 'pass' : '**FAIL**'} | ${outcome.detail} |`)
}

function load(port: number, seconds: number, tenants: Owner[]): Promise<autocannon.Result> {
  let next = 0
  return autocannon({
    url: `http://127.0.0.1:${port}/projects`,
    connections: CONNECTIONS,
    duration: seconds,
    setupClient: (client) => {
      const owner = tenants[next % tenants.length] as Owner
      next += 1
      client.setHeaders(owner.headers)
    },
  })
}

try {
  await main()
} catch (error) {
  outcomes.push({ check: 'topology run', pass: false, detail: String(error) })
  note(`\nrun failed: ${error instanceof Error ? error.stack : String(error)}`)
} finally {
  for (const stop of stops.reverse())
    await stop().catch((error: unknown) => note(`teardown: ${String(error)}`))
  rmSync(dir, { recursive: true, force: true })
}
process.exit(outcomes.every((outcome) => outcome.pass) ? 0 : 1)
