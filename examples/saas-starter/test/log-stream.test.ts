import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { logStreamFor } from '../src/log-stream.js'

const line = `${JSON.stringify({ level: 30, time: Date.UTC(2030, 0, 1, 9, 30), msg: 'ready at http://localhost:3000' })}\n`

/** A stand-in for stdout: a terminal or not, collecting what reaches it. */
function output(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), { isTTY })
  const chunks: string[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
  return { stream, text: () => chunks.join('') }
}

describe('log format', () => {
  it('is JSON (Fastify’s default stream) when stdout is not a terminal', () => {
    expect(logStreamFor({}, output(false).stream)).toBeUndefined()
  })

  it('is readable lines for a person at a terminal: level, time and message, no JSON', async () => {
    const out = output(true)
    const stream = logStreamFor({}, out.stream)
    expect(stream).toBeDefined()
    await new Promise<void>((resolve) => stream?.write(line, () => resolve()))
    await new Promise((resolve) => setImmediate(resolve))
    expect(out.text()).toContain('INFO')
    expect(out.text()).toContain('ready at http://localhost:3000')
    expect(out.text()).not.toContain('"msg"')
  })

  it('follows LOG_FORMAT over the terminal check, both ways', () => {
    expect(logStreamFor({ LOG_FORMAT: 'json' }, output(true).stream)).toBeUndefined()
    expect(logStreamFor({ LOG_FORMAT: 'pretty' }, output(false).stream)).toBeDefined()
  })
})
