export type HealthCheck = () => Promise<void>

export interface CheckResult {
  status: 'up' | 'down'
  latencyMs: number
  /** `timeout` or `failed`; the underlying error is logged, never returned. */
  error?: 'timeout' | 'failed'
}

export interface ReadinessReport {
  status: 'ok' | 'unavailable'
  checks: Record<string, CheckResult>
}

interface RegisteredCheck {
  check: HealthCheck
  timeoutMs: number
}

/** `app.health`: readiness checks that plugins add (database, Redis, queue, their own). */
export class HealthRegistry {
  readonly #checks = new Map<string, RegisteredCheck>()
  readonly #defaultTimeoutMs: number

  constructor(defaultTimeoutMs: number) {
    this.#defaultTimeoutMs = defaultTimeoutMs
  }

  register(name: string, check: HealthCheck, options: { timeoutMs?: number } = {}): void {
    if (this.#checks.has(name)) throw new Error(`health check "${name}" is already registered`)
    this.#checks.set(name, { check, timeoutMs: options.timeoutMs ?? this.#defaultTimeoutMs })
  }

  names(): string[] {
    return [...this.#checks.keys()]
  }

  /** Runs every check in parallel, each bounded by its timeout. */
  async run(onFailure: (name: string, error: unknown) => void): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.#checks].map(async ([name, { check, timeoutMs }]) => {
        const result = await runBounded(check, timeoutMs, (error) => onFailure(name, error))
        return [name, result] as const
      }),
    )
    const checks = Object.fromEntries(entries)
    const status = entries.every(([, result]) => result.status === 'up') ? 'ok' : 'unavailable'
    return { status, checks }
  }
}

const TIMED_OUT = Symbol('timed out')

async function runBounded(
  check: HealthCheck,
  timeoutMs: number,
  onFailure: (error: unknown) => void,
): Promise<CheckResult> {
  const started = performance.now()
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), timeoutMs)
  })
  try {
    const outcome = await Promise.race([check(), timeout])
    const latencyMs = Math.round(performance.now() - started)
    if (outcome === TIMED_OUT) {
      onFailure(new Error(`timed out after ${timeoutMs} ms`))
      return { status: 'down', latencyMs, error: 'timeout' }
    }
    return { status: 'up', latencyMs }
  } catch (error) {
    onFailure(error)
    return { status: 'down', latencyMs: Math.round(performance.now() - started), error: 'failed' }
  } finally {
    clearTimeout(timer)
  }
}
