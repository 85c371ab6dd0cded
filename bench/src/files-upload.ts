// Upload throughput (issue 17): one 100 MiB file through the app's upload route (core, auth,
// tenancy, rbac, files: streamed, sniffed, hashed, stored on local disk, recorded with its
// quota) against a plain @fastify/multipart handler piping the same file to disk, alternated in
// rounds within one run, one server; and the server's resident memory while it uploads (sampled
// every 50 ms: streaming keeps it flat, buffering would add the file's size). The aim: the app
// at 0.9x the plain handler or better.
import { fork } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const MiB = 1024 * 1024
const SIZE_MIB = Number(process.env.BENCH_SIZE_MIB ?? 100)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const server = fileURLToPath(new URL('./files-server.ts', import.meta.url))

// BENCH_CPU_PROF=<folder>: the server writes a CPU profile there when it exits.
const profile = process.env.BENCH_CPU_PROF
const child = fork(server, [], {
  execArgv: ['--import', 'tsx', ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [])],
})
const port = await new Promise<number>((resolve, reject) => {
  child.once('message', (message) => resolve((message as { port: number }).port))
  child.once('exit', (code) => reject(new Error(`files server exited with ${code}`)))
})
const usage = () =>
  new Promise<{ rss: number; cpuMicros: number }>((resolve) => {
    child.once('message', (message) => resolve(message as { rss: number; cpuMicros: number }))
    child.send('rss')
  })
const rss = async () => (await usage()).rss

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
const auth = { authorization: `Bearer ${login.accessToken}`, 'x-tenant-id': tenant.id }

// A PDF by its magic number, then pseudo-random bytes (nothing compresses or repeats).
const folder = await mkdtemp(join(tmpdir(), 'acme-bench-upload-'))
const file = join(folder, 'big.pdf')
const content = Buffer.alloc(SIZE_MIB * MiB)
let seed = 42
for (let i = 0; i < content.length; i += 4) {
  seed = (seed * 1_664_525 + 1_013_904_223) >>> 0
  content.writeUInt32LE(seed, i)
}
content.write('%PDF-1.7\n', 0, 'latin1')
await writeFile(file, content)

/** Streams the file from disk as one multipart part; answers seconds taken and the body. */
function upload(path: string, headers: Record<string, string>) {
  const boundary = 'acmebenchboundary'
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n` +
      'Content-Type: application/pdf\r\n\r\n',
  )
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  return new Promise<{ seconds: number; status: number; body: string }>((resolve, reject) => {
    const started = performance.now()
    const req = request(
      `${base}${path}`,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(head.length + content.length + tail.length),
        },
      },
      (res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => {
          body += chunk.toString()
        })
        res.on('end', () =>
          resolve({
            seconds: (performance.now() - started) / 1000,
            status: res.statusCode ?? 0,
            body,
          }),
        )
      },
    )
    req.on('error', reject)
    req.write(head)
    const stream = createReadStream(file, { highWaterMark: 256 * 1024 })
    stream.on('error', reject)
    stream.on('end', () => req.end(tail))
    stream.pipe(req, { end: false })
  })
}

/** One upload with the server's RSS sampled meanwhile: MiB/s and the peak RSS over the start. */
async function measure(path: string, headers: Record<string, string>) {
  const { rss: before, cpuMicros: cpuBefore } = await usage()
  let peak = before
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await rss())
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })()
  const result = await upload(path, headers)
  sampling = false
  await sampler
  // The server's CPU time for the upload: less disturbed by others' load than the wall clock.
  const cpuMs = ((await usage()).cpuMicros - cpuBefore) / 1000
  if (result.status !== 201) throw new Error(`${path}: ${result.status} ${result.body}`)
  // Removed outside the timed request, on both sides.
  if (path === '/plain') {
    const { name } = JSON.parse(result.body) as { name: string }
    await fetch(`${base}/plain/${name}`, { method: 'DELETE' })
  } else {
    const id = (JSON.parse(result.body) as { items: Array<{ id: string }> }).items[0]?.id
    await fetch(`${base}${path}/${id}`, { method: 'DELETE', headers })
  }
  return { mibPerSecond: SIZE_MIB / result.seconds, rssGrowthMiB: (peak - before) / MiB, cpuMs }
}

const appPath = `/tenants/${tenant.id}/files`
try {
  // Warm-up: one of each.
  await measure('/plain', {})
  await measure(appPath, auth)
  console.log(`node ${process.version}, one ${SIZE_MIB} MiB file per upload, ${ROUNDS} rounds`)
  console.log(
    '| round | plain handler (MiB/s) | app route (MiB/s) | ratio | server CPU, plain (ms) | server CPU, app (ms) | server RSS growth, plain (MiB) | server RSS growth, app (MiB) |',
  )
  console.log('|---|---|---|---|---|---|---|---|')
  let plainSum = 0
  let appSum = 0
  let worstGrowth = 0
  let plainCpu = 0
  let appCpu = 0
  const ratios: number[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    // Each goes first in every other round: whatever the first upload of a pair leaves behind
    // (dirty pages being written back, a collection) weighs on both sides alike.
    const plainFirst = round % 2 === 1
    const first = plainFirst ? await measure('/plain', {}) : await measure(appPath, auth)
    const second = plainFirst ? await measure(appPath, auth) : await measure('/plain', {})
    const [p, a] = plainFirst ? [first, second] : [second, first]
    plainSum += p.mibPerSecond
    appSum += a.mibPerSecond
    worstGrowth = Math.max(worstGrowth, a.rssGrowthMiB)
    plainCpu += p.cpuMs
    appCpu += a.cpuMs
    ratios.push(a.mibPerSecond / p.mibPerSecond)
    console.log(
      `| ${round} | ${p.mibPerSecond.toFixed(0)} | ${a.mibPerSecond.toFixed(0)} | ${(a.mibPerSecond / p.mibPerSecond).toFixed(2)} | ${p.cpuMs.toFixed(0)} | ${a.cpuMs.toFixed(0)} | ${p.rssGrowthMiB.toFixed(1)} | ${a.rssGrowthMiB.toFixed(1)} |`,
    )
  }
  console.log(
    `| mean | ${(plainSum / ROUNDS).toFixed(0)} | ${(appSum / ROUNDS).toFixed(0)} | ${(appSum / plainSum).toFixed(2)} | ${(plainCpu / ROUNDS).toFixed(0)} | ${(appCpu / ROUNDS).toFixed(0)} | | worst ${worstGrowth.toFixed(1)} |`,
  )
  // Each round's pair ran back to back: the median of their ratios is the least disturbed by
  // others' load on a shared machine.
  const sorted = [...ratios].sort((x, y) => x - y)
  const median = sorted[Math.floor(sorted.length / 2)] ?? 0
  console.log(`median ratio of the rounds: ${median.toFixed(2)}`)
  console.log(`server RSS at the end: ${((await rss()) / MiB).toFixed(0)} MiB`)
} finally {
  child.disconnect()
  await rm(folder, { recursive: true, force: true })
}
