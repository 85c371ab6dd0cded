import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { inject } from 'vitest'
import type { TestProject } from 'vitest/node'
import { TEST_PASSWORD } from './plugin-helpers.js'
import { LOG_CAPTURE_KEY } from './provided.js'

/**
 * LOG-01 across the whole suite: every test app's log lines also go to a file of this run
 * (one per test process), and the global setup's teardown scans them all for secrets, so a leak
 * in any test file fails the run even when that file asserts nothing about its logs.
 */

/**
 * The run's capture folder, `test-results/logs/<pid of the run>` of the package, made empty;
 * folders of earlier runs go, those of a run still going (a second vitest in the package) stay.
 */
export function prepareLogCapture(packageDir: string): string {
  const root = join(packageDir, 'test-results', 'logs')
  mkdirSync(root, { recursive: true })
  for (const entry of readdirSync(root)) {
    const pid = Number(entry)
    if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) continue
    rmSync(join(root, entry), { recursive: true, force: true })
  }
  const dir = join(root, String(process.pid))
  mkdirSync(dir, { recursive: true })
  return dir
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Appends log text to this process's capture file; null outside a run with the global setup. */
export function logCaptureSink(): ((text: string) => void) | null {
  let dir: unknown
  try {
    dir = inject(LOG_CAPTURE_KEY)
  } catch {
    // Not under vitest (a benchmark using the harness): nothing to capture for.
    return null
  }
  if (typeof dir !== 'string') return null
  const file = join(dir, `${process.pid}.ndjson`)
  // Synchronous: a test process may exit right after its last test, with nothing left buffered.
  return (text) => appendFileSync(file, text)
}

/**
 * A log stream for an app a test builds itself (not through `createTestApp`): every line goes to
 * the run's capture file, and to `forward` when the test reads its own logs.
 */
export function captureLogStream(forward?: NodeJS.WritableStream): Writable {
  const capture = logCaptureSink()
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      capture?.(chunk.toString())
      if (forward) forward.write(chunk)
      done()
    },
  })
}

/** Passwords the suites sign up, sign in and change passwords with. */
export const TEST_PASSWORDS: readonly string[] = [
  TEST_PASSWORD,
  'correct horse battery staple',
  'operator horse battery staple',
  'another operator horse battery',
  'another horse battery staple',
  'another long passphrase',
  'an entirely new passphrase',
  'a brand new horse',
  'a new correct horse',
  'wrong horse battery',
  'wrong password here',
  'not my password!',
  'password1234',
]

export type LogSecretKind = 'password' | 'jwt' | 'api_key' | 'opaque_token'

export interface LogFinding {
  file: string
  line: number
  kind: LogSecretKind
  /** The match, cut short so the report does not repeat the secret. */
  excerpt: string
}

const JWT = /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{16,}/g
const API_KEY = /(?<![A-Za-z0-9_-])ak_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g
/**
 * Refresh tokens, reset, verification and invitation tokens: 32 random bytes as base64url, 43
 * characters, mixing cases and digits (a hex digest or a UUID never matches).
 */
const OPAQUE =
  /(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[0-9])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g

const cut = (secret: string) => `${secret.slice(0, 6)}…(${secret.length} chars)`

/** The secrets one log line holds. */
export function secretsIn(line: string, passwords: readonly string[] = TEST_PASSWORDS) {
  const found: Array<{ kind: LogSecretKind; excerpt: string }> = []
  const lower = line.toLowerCase()
  for (const password of passwords) {
    if (lower.includes(password.toLowerCase()))
      found.push({ kind: 'password', excerpt: cut(password) })
  }
  for (const [kind, pattern] of [
    ['jwt', JWT],
    ['api_key', API_KEY],
    ['opaque_token', OPAQUE],
  ] as const) {
    for (const match of line.matchAll(pattern)) found.push({ kind, excerpt: cut(match[0]) })
  }
  return found
}

/** Every secret in the run's captured logs. */
export function scanCapturedLogs(dir: string, passwords?: readonly string[]): LogFinding[] {
  const findings: LogFinding[] = []
  for (const name of readdirSync(dir).sort()) {
    const lines = readFileSync(join(dir, name), 'utf8').split('\n')
    lines.forEach((text, index) => {
      for (const secret of secretsIn(text, passwords)) {
        findings.push({ file: join(dir, name), line: index + 1, ...secret })
      }
    })
  }
  return findings
}

/**
 * For a vitest global setup: prepares the run's capture folder, and returns the teardown that
 * fails the run when the captured logs hold one of `passwords` or a token.
 */
export function startLogScan(
  project: TestProject,
  passwords: readonly string[] = TEST_PASSWORDS,
): () => void {
  const logDir = prepareLogCapture(project.config.root)
  project.provide(LOG_CAPTURE_KEY, logDir)
  return () => {
    const findings = scanCapturedLogs(logDir, passwords)
    if (findings.length === 0) return
    const listed = findings
      .slice(0, 20)
      .map((finding) => `  ${finding.kind} ${finding.excerpt} at ${finding.file}:${finding.line}`)
    // vitest reports an error thrown here but still exits 0: the exit code is set too.
    process.exitCode = 1
    throw new Error(
      `The tests' logs hold ${findings.length} secret(s) (LOG-01):\n${listed.join('\n')}`,
    )
  }
}
