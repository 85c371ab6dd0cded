// What core costs on the request path: the same JSON route on bare Fastify and with core's
// defaults, each in its own child process, loaded one after the other in the same run so the
// ratio means something on a shared machine. Usage: pnpm bench [BENCH_DURATION=10 …]
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import type { ServerName } from './servers.js'

const DURATION_S = Number(process.env.BENCH_DURATION ?? 10)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const serveScript = fileURLToPath(new URL('./serve.ts', import.meta.url))

async function measure(name: ServerName): Promise<number> {
  const child = fork(serveScript, [name], { execArgv: ['--import', 'tsx'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port))
    child.once('exit', (code) => reject(new Error(`${name} server exited with ${code}`)))
  })
  try {
    const url = `http://127.0.0.1:${port}/projects/current`
    // A short warm-up so both servers are measured with a hot JIT.
    await autocannon({ url, connections: CONNECTIONS, duration: 2 })
    const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION_S })
    if (result.non2xx > 0 || result.errors > 0) {
      throw new Error(`${name}: ${result.non2xx} non-2xx responses, ${result.errors} errors`)
    }
    return result.requests.average
  } finally {
    child.disconnect()
  }
}

const rows: Array<{ bare: number; core: number }> = []
for (let round = 0; round < ROUNDS; round++) {
  rows.push({ bare: await measure('bare'), core: await measure('withCore') })
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length
const format = (bare: number, core: number) =>
  `${Math.round(bare)} | ${Math.round(core)} | ${(core / bare).toFixed(2)}`
console.log(`node ${process.version}, ${CONNECTIONS} connections, ${DURATION_S} s per measurement`)
console.log('| round | bare Fastify (req/s) | with core (req/s) | ratio |')
console.log('|---|---|---|---|')
rows.forEach((row, index) => {
  console.log(`| ${index + 1} | ${format(row.bare, row.core)} |`)
})
console.log(
  `| mean | ${format(mean(rows.map((row) => row.bare)), mean(rows.map((row) => row.core)))} |`,
)
