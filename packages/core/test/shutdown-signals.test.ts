import { PassThrough } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { closeOnSignals, type ShutdownSettings } from '../src/index.js'

// Signals are emitted on `process` (what Node does when one arrives), on a signal of their own
// so the test process's real handlers stay out of it; `process.exit` is recorded and throws
// instead of exiting, so nothing after it runs, as in a real exit.
const SIGNAL = 'SIGUSR2'

interface Harness {
  app: FastifyInstance
  /** Lets the app's close finish (its onClose hook waits for it). */
  finishClose: () => void
  closed: Promise<void>
  messages: () => string[]
  exits: () => unknown[]
}

async function harness(settings: ShutdownSettings): Promise<Harness> {
  const stream = new PassThrough()
  const lines: string[] = []
  stream.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)))
  const app = Fastify({ logger: { stream } })
  let finishClose: () => void = () => {}
  const closeMayFinish = new Promise<void>((resolve) => {
    finishClose = resolve
  })
  let markClosed: () => void = () => {}
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve
  })
  app.addHook('onClose', async () => {
    await closeMayFinish
    markClosed()
  })
  await app.ready()
  const exits: unknown[] = []
  vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
    exits.push(code)
    throw new Error(`process.exit(${code})`)
  }) as never)
  closeOnSignals(app, { signals: [SIGNAL], ...settings })
  return {
    app,
    finishClose,
    closed,
    messages: () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg),
    exits: () => exits,
  }
}

afterEach(() => {
  process.removeAllListeners(SIGNAL)
  process.exitCode = undefined
  vi.restoreAllMocks()
})

describe('closeOnSignals', () => {
  it('takes a signal delivered twice at once (Ctrl-C, passed on by npm) as one request to stop', async () => {
    const { finishClose, closed, messages, exits } = await harness({})
    process.emit(SIGNAL, SIGNAL)
    process.emit(SIGNAL, SIGNAL)
    finishClose()
    await closed
    expect(exits()).toEqual([])
    expect(messages()).toEqual(['shutting down gracefully'])
  })

  it('exits at once on a signal that comes after the repeat window, while the close still waits', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z')
    const { finishClose, messages, exits } = await harness({
      repeatWindowMs: 1_000,
      clock: () => new Date(now),
    })
    process.emit(SIGNAL, SIGNAL)
    now += 999
    process.emit(SIGNAL, SIGNAL)
    expect(exits()).toEqual([])
    now += 1
    expect(() => process.emit(SIGNAL, SIGNAL)).toThrow('process.exit(1)')
    expect(exits()).toEqual([1])
    expect(messages()).toEqual([
      'shutting down gracefully',
      'second signal during shutdown: exiting now',
    ])
    finishClose()
  })
})
