// ENUM-01 and ENUM-02's timing rule: for each public route that must not tell whether an email
// has an account, 200 interleaved requests for an email that has one and for emails that do
// not; the medians must differ by at most 10% of the known-email median.
// - POST /auth/login: a known email with a wrong password, an unknown email;
// - POST /auth/register: an email that has an account, a fresh one each time;
// - POST /auth/password/forgot: a known email, an unknown one.
// Exits 1 when any route breaks the rule, so a scheduled (nightly) CI job can run it as is.
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const SAMPLES = Number(process.env.TIMING_SAMPLES ?? 200)
const TOLERANCE = Number(process.env.TIMING_TOLERANCE ?? 0.1)
// Work a route queues for later (mails, tokens) runs in the server's process here: a pause
// between requests lets it finish, so one sample's job does not slow down the next sample.
const PAUSE_MS = Number(process.env.TIMING_PAUSE_MS ?? 50)
const ROUTES = (process.env.TIMING_ROUTES ?? 'login,register,forgot').split(',')
const server = fileURLToPath(new URL('./login-timing-server.ts', import.meta.url))

const child = fork(server, [], { execArgv: ['--import', 'tsx'] })
const port = await new Promise<number>((resolve, reject) => {
  child.once('message', (message) => resolve((message as { port: number }).port))
  child.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
})
const base = `http://127.0.0.1:${port}`
const json = { 'content-type': 'application/json' }
const known = 'known@initech.test'
const PASSWORD = 'correct horse battery'
const pause = () => new Promise((resolve) => setTimeout(resolve, PAUSE_MS))
await fetch(`${base}/auth/register`, {
  method: 'POST',
  headers: json,
  body: JSON.stringify({ email: known, password: PASSWORD }),
})

/** Milliseconds until the whole answer arrived; throws on any status but `expected`. */
async function timed(path: string, body: object, expected: number): Promise<number> {
  const started = process.hrtime.bigint()
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify(body),
  })
  await response.arrayBuffer()
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  if (response.status !== expected) {
    throw new Error(`${path}: expected ${expected}, got ${response.status}`)
  }
  return ms
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

interface Comparison {
  route: string
  knownLabel: string
  unknownLabel: string
  known: () => Promise<number>
  unknown: (i: number) => Promise<number>
}

const comparisons: Record<string, Comparison> = {
  login: {
    route: 'POST /auth/login',
    knownLabel: 'a known email, wrong password',
    unknownLabel: 'an unknown email',
    known: () => timed('/auth/login', { email: known, password: 'wrong horse battery' }, 401),
    unknown: (i) =>
      timed(
        '/auth/login',
        { email: `nobody${i}@initech.test`, password: 'wrong horse battery' },
        401,
      ),
  },
  register: {
    route: 'POST /auth/register',
    knownLabel: 'an email that has an account',
    unknownLabel: 'a new email',
    known: () => timed('/auth/register', { email: known, password: PASSWORD }, 202),
    unknown: (i) =>
      timed(
        '/auth/register',
        { email: `new${i}-${Date.now()}@initech.test`, password: PASSWORD },
        202,
      ),
  },
  forgot: {
    route: 'POST /auth/password/forgot',
    knownLabel: 'a known email',
    unknownLabel: 'an unknown email',
    known: () => timed('/auth/password/forgot', { email: known }, 202),
    unknown: (i) => timed('/auth/password/forgot', { email: `nobody${i}@initech.test` }, 202),
  },
}

try {
  console.log(`node ${process.version}, ${SAMPLES} interleaved samples each, ${PAUSE_MS} ms apart`)
  for (const name of ROUTES) {
    const comparison = comparisons[name]
    if (!comparison) throw new Error(`unknown route "${name}": ${Object.keys(comparisons)}`)
    for (let i = 0; i < 10; i++) {
      await (i % 2 ? comparison.known() : comparison.unknown(-1 - i))
      await pause()
    }
    const knownTimes: number[] = []
    const unknownTimes: number[] = []
    for (let i = 0; i < SAMPLES; i++) {
      // Interleaved, so drift (GC, other load) hits both sides alike.
      knownTimes.push(await comparison.known())
      await pause()
      unknownTimes.push(await comparison.unknown(i))
      await pause()
    }
    const knownMedian = median(knownTimes)
    const unknownMedian = median(unknownTimes)
    const difference = Math.abs(knownMedian - unknownMedian) / knownMedian
    console.log('')
    console.log(`| ${comparison.route} with | median (ms) |`)
    console.log('|---|---|')
    console.log(`| ${comparison.knownLabel} | ${knownMedian.toFixed(2)} |`)
    console.log(`| ${comparison.unknownLabel} | ${unknownMedian.toFixed(2)} |`)
    console.log(`| difference | ${(difference * 100).toFixed(1)}% (limit ${TOLERANCE * 100}%) |`)
    if (difference > TOLERANCE) process.exitCode = 1
  }
} finally {
  child.disconnect()
}
