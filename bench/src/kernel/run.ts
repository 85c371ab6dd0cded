// The kernel benchmark: starts every server (the peers and acme's), each in its own process,
// then loads them in alternating rounds in one run (the order rotates each round, so no server
// always follows the same neighbour) and prints each one's throughput as a ratio to bare Fastify
// measured in the same round. Usage: pnpm bench [BENCH_DURATION=10 BENCH_ROUNDS=3 …]
import { type ChildProcess, fork } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import type { WindowAnswer, WindowMessage } from './profile.js'
import { type KernelServerName, kernelServers } from './servers.js'
import type { ServerReady } from './types.js'

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10)
const WARMUP_S = Number(process.env.BENCH_WARMUP ?? 2)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
/** A folder: each server writes there a V8 CPU profile of each measured window. */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF
/** A subset by name (BENCH_SERVERS=core,rbac); bare Fastify is always measured, first. */
const chosen = (process.env.BENCH_SERVERS?.split(',') ??
  Object.keys(kernelServers)) as KernelServerName[]
const names: KernelServerName[] = ['bare', ...chosen.filter((name) => name !== 'bare')]
const serveScript = fileURLToPath(new URL('./serve.ts', import.meta.url))

interface Running extends ServerReady {
  name: KernelServerName
  child: ChildProcess
}

async function start(name: KernelServerName): Promise<Running> {
  if (!(name in kernelServers)) throw new Error(`unknown server "${name}"`)
  const child = fork(serveScript, [name], { execArgv: ['--import', 'tsx'] })
  const ready = await new Promise<ServerReady>((resolve, reject) => {
    child.once('message', (message) => resolve(message as ServerReady))
    child.once('exit', (code) => reject(new Error(`${name} server exited with ${code}`)))
  })
  const running = { ...ready, name, child }
  await check(running)
  return running
}

/** One request before any load: the route answers 200 with every header it must carry. */
async function check(server: Running): Promise<void> {
  const response = await fetch(url(server), { headers: server.headers })
  if (response.status !== 200) throw new Error(`${server.name} answered ${response.status}`)
  const missing = server.expectHeaders.filter((name) => !response.headers.has(name))
  if (missing.length > 0) throw new Error(`${server.name} lacks ${missing.join(', ')}`)
}

const url = (server: ServerReady) => `http://127.0.0.1:${server.port}${server.path}`

interface Measured {
  rps: number
  p99: number
  /** Server CPU time per request, in microseconds. */
  cpuPerRequest: number
}

async function load(server: Running): Promise<Measured> {
  const options = { url: url(server), connections: CONNECTIONS, headers: server.headers }
  if (WARMUP_S > 0) await autocannon({ ...options, duration: WARMUP_S })
  await ask(server, { window: 'start', profile: CPU_PROF_DIR !== undefined })
  const result = await autocannon({ ...options, duration: DURATION_S })
  const { cpuMicros } = await ask(server, { window: 'stop', dir: CPU_PROF_DIR })
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${server.name}: ${result.non2xx} non-2xx responses, ${result.errors} errors`)
  }
  return {
    rps: result.requests.average,
    p99: result.latency.p99,
    cpuPerRequest: cpuMicros / result.requests.total,
  }
}

async function ask(server: Running, message: WindowMessage): Promise<WindowAnswer> {
  const answered = new Promise<WindowAnswer>((resolve) =>
    server.child.once('message', (answer) => resolve(answer as WindowAnswer)),
  )
  server.child.send(message)
  return answered
}

async function stop(server: Running): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  const exited = new Promise((resolve) => server.child.once('exit', resolve))
  server.child.disconnect()
  await exited
}

const loadBefore = loadavg()[0] ?? 0
if (loadBefore >= 1) {
  console.error(
    `load average ${loadBefore.toFixed(2)}: other work shares the cores; ratios will be noisy`,
  )
}
const running: Running[] = []
try {
  for (const name of names) running.push(await start(name))
  const results = new Map<KernelServerName, Measured[]>()
  for (let round = 0; round < ROUNDS; round++) {
    const order = running.map((_, index) => running[(index + round) % running.length])
    for (const server of order as Running[]) {
      const measured = await load(server)
      results.set(server.name, [...(results.get(server.name) ?? []), measured])
      console.error(`round ${round + 1}: ${server.name} ${Math.round(measured.rps)} req/s`)
    }
  }
  print(results, loadBefore, loadavg()[0] ?? 0)
} finally {
  await Promise.all(running.map(stop))
}

function print(results: Map<KernelServerName, Measured[]>, before: number, after: number): void {
  const bare = results.get('bare') ?? []
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
  console.log(
    `node ${process.version}, ${CONNECTIONS} connections, ${ROUNDS} rounds of ${DURATION_S} s ` +
      `per server, load average ${before.toFixed(2)} before, ${after.toFixed(2)} after`,
  )
  console.log('')
  console.log(
    '| same GET route | req/s | ratio to bare Fastify | per round | p99 (ms) | server CPU per request (µs) |',
  )
  console.log('|---|---:|---:|---|---:|---:|')
  for (const name of names) {
    const rows = results.get(name) ?? []
    // Each round's ratio uses that round's bare figure: the machine's drift cancels out.
    const ratios = rows.map((row, round) => row.rps / (bare[round]?.rps ?? Number.NaN))
    const cells = [
      kernelServers[name].label,
      Math.round(mean(rows.map((row) => row.rps))),
      mean(ratios).toFixed(2),
      ratios.map((ratio) => ratio.toFixed(2)).join(', '),
      mean(rows.map((row) => row.p99)).toFixed(1),
      Math.round(mean(rows.map((row) => row.cpuPerRequest))),
    ]
    console.log(`| ${cells.join(' | ')} |`)
  }
}
