import { sleep } from '@acme/test-kit'
import { describe, expect, it } from 'vitest'
import { throttledLog } from '../src/log-throttle.js'

describe('throttledLog: reconnect errors during an outage', () => {
  it('logs the first at once, then one line per interval carrying how many it folded', async () => {
    const lines: number[] = []
    const report = throttledLog((suppressed) => lines.push(suppressed), 50)
    for (let i = 0; i < 100; i++) report()
    expect(lines).toEqual([0])
    await sleep(60)
    report()
    expect(lines).toEqual([0, 99])
    report()
    expect(lines).toEqual([0, 99])
  })
})
