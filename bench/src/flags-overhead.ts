// What a flag guard costs: the same authenticated, tenant-scoped route without and with
// `config.flag` (a flag the tenant's plan grants, decided from memory), alternated in rounds
// within one run, one server. The aim: the guarded route at 0.95x the unguarded one or
// better.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const server = fileURLToPath(new URL('./flags-server.ts', import.meta.url))

const child = fork(server, [], { execArgv: ['--import', 'tsx'] })
const port = await new Promise<number>((resolve, reject) => {
  child.once('message', (message) => resolve((message as { port: number }).port))
  child.once('exit', (code) => reject(new Error(`flags server exited with ${code}`)))
})
const base = `http://127.0.0.1:${port}`
const json = { 'content-type': 'application/json' }
const credentials = JSON.stringify({
  email: 'bench@initech.test',
  password: 'correct horse battery',
})
await fetch(`${base}/auth/register`, { method: 'POST', headers: json, body: credentials })
const login = (await (
  await fetch(`${base}/auth/login`, { method: 'POST', headers: json, body: credentials })
).json()) as { accessToken: string }
const tenant = (await (
  await fetch(`${base}/tenants`, {
    method: 'POST',
    headers: { ...json, authorization: `Bearer ${login.accessToken}` },
    body: JSON.stringify({ name: 'Bench' }),
  })
).json()) as { id: string }
const headers = { authorization: `Bearer ${login.accessToken}`, 'x-tenant-id': tenant.id }

async function load(path: string): Promise<number> {
  const options = { url: `${base}${path}`, connections: CONNECTIONS, headers }
  const result = await autocannon({ ...options, duration: DURATION_S })
  if (result.non2xx > 0) throw new Error(`${path}: ${result.non2xx} non-2xx responses`)
  return result.requests.average
}

try {
  for (const path of ['/open', '/guarded']) {
    const check = await fetch(`${base}${path}`, { headers })
    if (check.status !== 200) throw new Error(`${path} answered ${check.status}`)
  }
  await autocannon({ url: `${base}/open`, connections: CONNECTIONS, headers, duration: 2 })
  await autocannon({ url: `${base}/guarded`, connections: CONNECTIONS, headers, duration: 2 })
  console.log(
    `node ${process.version}, ${CONNECTIONS} connections, ${DURATION_S} s per measurement`,
  )
  console.log('| round | tenant route (req/s) | same route, `config.flag` (req/s) | ratio |')
  console.log('|---|---|---|---|')
  let open = 0
  let guarded = 0
  for (let round = 1; round <= ROUNDS; round++) {
    const o = await load('/open')
    const g = await load('/guarded')
    open += o
    guarded += g
    console.log(`| ${round} | ${Math.round(o)} | ${Math.round(g)} | ${(g / o).toFixed(2)} |`)
  }
  console.log(
    `| mean | ${Math.round(open / ROUNDS)} | ${Math.round(guarded / ROUNDS)} | ${(guarded / open).toFixed(2)} |`,
  )
} finally {
  child.disconnect()
}
