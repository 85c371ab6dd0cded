import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { createDeferred, freePort, manualClock, sleep, timeUntil, waitFor } from '../src/index.js'

describe('manualClock', () => {
  it('stands still until moved, by milliseconds or to a date', () => {
    const time = manualClock('2030-01-01T00:00:00.000Z')
    expect(time.now().toISOString()).toBe('2030-01-01T00:00:00.000Z')
    time.advance(1_500)
    expect(time.now().toISOString()).toBe('2030-01-01T00:00:01.500Z')
    time.set(new Date('2031-06-01T12:00:00.000Z'))
    expect(time.now().toISOString()).toBe('2031-06-01T12:00:00.000Z')
  })

  it('hands out fresh dates, so a caller cannot move it', () => {
    const time = manualClock()
    const seen = time.now()
    seen.setTime(0)
    expect(time.now().getTime()).not.toBe(0)
  })
})

describe('waitFor', () => {
  it('returns the first value that is not false', async () => {
    let calls = 0
    expect(await waitFor(() => (++calls >= 3 ? calls : false))).toBe(3)
  })

  it('throws the last failure on timeout', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('still wrong')
        },
        { timeoutMs: 30 },
      ),
    ).rejects.toThrow('still wrong')
  })

  it('waits for a deferred the test settles', async () => {
    const deferred = createDeferred()
    let settled = false
    void deferred.promise.then(() => {
      settled = true
    })
    await sleep(5)
    expect(settled).toBe(false)
    deferred.resolve()
    await waitFor(() => settled)
  })
})

describe('timeUntil', () => {
  it('says how long a condition took, and gives up without throwing', async () => {
    const started = Date.now()
    expect(await timeUntil(() => Date.now() - started >= 20)).toBeGreaterThanOrEqual(15)
    expect(await timeUntil(() => false, { timeoutMs: 30 })).toBeGreaterThanOrEqual(30)
  })
})

describe('freePort', () => {
  it('finds a port a server can then listen on', async () => {
    const port = await freePort()
    const server = createServer().listen(port, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    await new Promise((resolve) => server.close(resolve))
    expect(port).toBeGreaterThan(0)
  })
})
