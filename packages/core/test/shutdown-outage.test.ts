import { sleep, startTcpProxy, type TcpProxy } from '@acme/test-kit'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildTestApp } from './support/app.js'
import { TEST_REDIS_URL, uniquePrefix } from './support/env.js'

const target = new URL(TEST_REDIS_URL)
let proxy: TcpProxy

beforeAll(async () => {
  proxy = await startTcpProxy(target.hostname, Number(target.port || 6379))
})

afterAll(async () => {
  await proxy.close()
})

it('closes the app within seconds while Redis is down (CH-03)', async () => {
  const { app } = await buildTestApp({
    redis: `redis://127.0.0.1:${proxy.port}`,
    redisKeyPrefix: uniquePrefix('shutdown-outage'),
  })
  await proxy.cut()
  // Long enough for the shared client and the job runner's connections to start reconnecting.
  await sleep(1_500)
  const started = Date.now()
  await app.close()
  expect(Date.now() - started).toBeLessThan(10_000)
  await proxy.restore()
}, 30_000)
