#!/usr/bin/env node
// Times the README's start command on a fresh clone of this repository: from nothing to
// /health/ready (install, build, migrations, start), then a second start with nothing changed.
// Prints the load average around each, since the machine may be shared.
//   node scripts/start-timing.mjs [repository, default: this checkout's HEAD]
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'

const source = process.argv[2] ?? process.cwd()
const dir = mkdtempSync(join(tmpdir(), 'acme-start-'))
const port = 3000 + Math.floor(Math.random() * 1000)

function load() {
  return loadavg()[0].toFixed(2)
}

async function timeStart(label, command) {
  const loadBefore = load()
  const started = performance.now()
  const child = spawn('bash', ['-c', command], {
    cwd: dir,
    env: { ...process.env, PORT: String(port), CI: '' },
    stdio: ['ignore', 'ignore', 'ignore'],
    detached: true,
  })
  const deadline = Date.now() + 600_000
  let seconds
  while (Date.now() < deadline) {
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
      (response) => response.status === 200,
      () => false,
    )
    if (ready) {
      seconds = (performance.now() - started) / 1000
      break
    }
    if (child.exitCode !== null) throw new Error(`${label}: the command exited (${child.exitCode})`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  process.kill(-child.pid, 'SIGTERM')
  await new Promise((resolve) => child.once('exit', resolve))
  return { label, seconds, loadBefore, loadAfter: load() }
}

try {
  execFileSync('git', ['clone', '--quiet', source, dir])
  const rows = [
    await timeStart(
      'first start (fresh clone)',
      'npx pnpm@12.4.2 install && npx pnpm@12.4.2 start',
    ),
    await timeStart(
      'second start (nothing changed)',
      'npx pnpm@12.4.2 install && npx pnpm@12.4.2 start',
    ),
  ]
  console.log(`node ${process.version}, ${source}`)
  console.log('| start | seconds to /health/ready | load before | load after |')
  console.log('|---|---:|---:|---:|')
  for (const row of rows) {
    console.log(
      `| ${row.label} | ${row.seconds?.toFixed(1) ?? 'never'} | ${row.loadBefore} | ${row.loadAfter} |`,
    )
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
