import { Broadcast } from '@acme/core'
import { startTcpProxy, waitFor } from '@acme/test-kit'
import { PrismaPg } from '@prisma/adapter-pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FlagsDb } from '../src/db.js'
import { Evaluator } from '../src/evaluator.js'
import { PrismaClient } from '../src/generated/prisma/client.js'
import { FlagStore } from '../src/store/flag-store.js'
import { LiveFlags } from '../src/store/live-flags.js'
import { createFlagsApp, type FlagsTestApp } from './support/app.js'

let t: FlagsTestApp

beforeAll(async () => {
  t = await createFlagsApp(
    { flags: [{ key: 'ready-flag', type: 'boolean', defaultValue: true }] },
    { label: 'flagslive' },
  )
})
afterAll(async () => {
  await t?.close()
})

const quiet = { warn: () => undefined, info: () => undefined }

describe('readiness waits for the first load', () => {
  it('is loading (no values, reason ERROR / NOT_READY) until the database answers, then ready', async () => {
    const url = new URL(t.db.app.url)
    const proxy = await startTcpProxy(url.hostname, Number(url.port))
    url.port = String(proxy.port)
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: url.toString() }) })
    await proxy.cut()
    const store = new FlagStore(prisma as unknown as FlagsDb, 'production')
    const live = new LiveFlags({
      environment: 'production',
      load: () => store.load(() => undefined),
      readVersion: () => store.version(),
      broadcast: new Broadcast({ redis: null, prefix: 'unused:', logger: quiet }),
      entitlements: () => [],
      clock: () => new Date(),
      pollMs: 0,
      maxStaleMs: 60_000,
      logger: quiet,
    })
    try {
      await live.start()
      expect(live.state).toBe('loading')
      expect(live.snapshot).toBeNull()
      expect(live.status()).toMatchObject({ state: 'loading', version: 0, confirmedAt: null })
      const evaluator = new Evaluator(live, new Map([['ready-flag', false]]))
      expect(evaluator.evaluate('ready-flag', {})).toMatchObject({
        value: false,
        reason: 'ERROR',
        errorCode: 'NOT_READY',
      })
      expect(evaluator.isEnabled('ready-flag', {})).toBe(false)
      await proxy.restore()
      await waitFor(() => live.state === 'ready', { timeoutMs: 20_000 })
      expect(live.snapshot?.isEnabled('ready-flag', {})).toBe(true)
      expect(evaluator.evaluate('ready-flag', {})).toMatchObject({ value: true, reason: 'DEFAULT' })
      expect(live.status().version).toBe(t.app.flags.status().version)
    } finally {
      live.close()
      await prisma.$disconnect()
      await proxy.close()
    }
  })
})
