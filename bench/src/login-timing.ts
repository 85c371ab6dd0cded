// ENUM-01's timing rule: 200 interleaved failed logins for a known email (wrong password) and
// for an unknown one; the medians must differ by at most 10% of the known-user median. Exits 1
// when they do not, so a scheduled (nightly) CI job can run it as is.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const SAMPLES = Number(process.env.TIMING_SAMPLES ?? 200)
const TOLERANCE = Number(process.env.TIMING_TOLERANCE ?? 0.1)
const server = fileURLToPath(new URL('./login-timing-server.ts', import.meta.url))

const child = fork(server, [], { execArgv: ['--import', 'tsx'] })
const port = await new Promise<number>((resolve, reject) => {
  child.once('message', (message) => resolve((message as { port: number }).port))
  child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
})
const base = `http://127.0.0.1:${port}`
const json = { 'content-type': 'application/json' }
const known = 'known@initech.test'
await fetch(`${base}/auth/register`, {
  method: 'POST',
  headers: json,
  body: JSON.stringify({ email: known, password: 'correct horse battery' }),
})

async function attempt(email: string): Promise<number> {
  const started = process.hrtime.bigint()
  const response = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email, password: 'wrong horse battery' }),
  })
  await response.arrayBuffer()
  if (response.status !== 401) throw new Error(`expected 401, got ${response.status}`)
  return Number(process.hrtime.bigint() - started) / 1e6
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

try {
  for (let i = 0; i < 10; i++) await attempt(i % 2 ? known : `warmup${i}@initech.test`)
  const knownTimes: number[] = []
  const unknownTimes: number[] = []
  for (let i = 0; i < SAMPLES; i++) {
    // Interleaved, so drift (GC, other load) hits both sides alike.
    knownTimes.push(await attempt(known))
    unknownTimes.push(await attempt(`nobody${i}@initech.test`))
  }
  const knownMedian = median(knownTimes)
  const unknownMedian = median(unknownTimes)
  const difference = Math.abs(knownMedian - unknownMedian) / knownMedian
  console.log(`node ${process.version}, ${SAMPLES} interleaved samples each`)
  console.log('| login with | median (ms) |')
  console.log('|---|---|')
  console.log(`| a known email, wrong password | ${knownMedian.toFixed(2)} |`)
  console.log(`| an unknown email | ${unknownMedian.toFixed(2)} |`)
  console.log(`| difference | ${(difference * 100).toFixed(1)}% (limit ${TOLERANCE * 100}%) |`)
  if (difference > TOLERANCE) process.exitCode = 1
} finally {
  child.disconnect()
}
