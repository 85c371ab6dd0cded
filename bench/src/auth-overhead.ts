// What authentication costs: the same route public and behind a bearer token, in one server and
// one run; then a burst of logins (argon2id) while a cheap route is measured for p99 latency.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const server = fileURLToPath(new URL('./auth-server.ts', import.meta.url))

const child = fork(server, [], { execArgv: ['--import', 'tsx'] })
const port = await new Promise<number>((resolve, reject) => {
  child.once('message', (message) => resolve((message as { port: number }).port))
  child.once('exit', (code) => reject(new Error(`auth server exited with ${code}`)))
})
const base = `http://127.0.0.1:${port}`
const credentials = JSON.stringify({
  email: 'bench@initech.test',
  password: 'correct horse battery',
})
const json = { 'content-type': 'application/json' }
await fetch(`${base}/auth/register`, { method: 'POST', headers: json, body: credentials })
const login = (await (
  await fetch(`${base}/auth/login`, { method: 'POST', headers: json, body: credentials })
).json()) as { accessToken: string }
const authorization = `Bearer ${login.accessToken}`

async function load(path: string, headers: Record<string, string> = {}) {
  const options = { url: `${base}${path}`, connections: CONNECTIONS, headers }
  await autocannon({ ...options, duration: 2 })
  const result = await autocannon({ ...options, duration: DURATION_S })
  if (result.non2xx > 0) throw new Error(`${path}: ${result.non2xx} non-2xx responses`)
  return result.requests.average
}

try {
  const open = await load('/public')
  const guarded = await load('/private', { authorization })
  console.log(
    `node ${process.version}, ${CONNECTIONS} connections, ${DURATION_S} s per measurement`,
  )
  console.log('| route | req/s |')
  console.log('|---|---|')
  console.log(`| public | ${Math.round(open)} |`)
  console.log(`| bearer token (EdDSA) | ${Math.round(guarded)} |`)
  console.log(`| ratio | ${(guarded / open).toFixed(2)} |`)

  const [logins, cheap] = await Promise.all([
    autocannon({
      url: `${base}/auth/login`,
      method: 'POST',
      headers: json,
      body: credentials,
      connections: 8,
      duration: DURATION_S,
    }),
    autocannon({ url: `${base}/public`, connections: 10, duration: DURATION_S }),
  ])
  console.log('')
  console.log('| during a login burst (8 connections) | value |')
  console.log('|---|---|')
  console.log(`| logins/s | ${Math.round(logins.requests.average)} |`)
  console.log(`| cheap route p99 latency | ${cheap.latency.p99} ms |`)
} finally {
  child.disconnect()
}
