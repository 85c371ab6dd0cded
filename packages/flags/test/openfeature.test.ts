import { manualClock, startTcpProxy, type TcpProxy, waitFor } from '@acme/test-kit'
import { TEST_REDIS_URL } from '@acme/test-support'
import { type EventDetails, OpenFeature, ProviderEvents } from '@openfeature/server-sdk'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AcmeFlagsProvider } from '../src/openfeature.js'
import { createFlagsApp, type FlagsTestApp, tenantOf } from './support/app.js'

let t: FlagsTestApp
let redisProxy: TcpProxy
const clock = manualClock()
const seen: Array<{ type: string; details: EventDetails | undefined }> = []

beforeAll(async () => {
  const target = new URL(TEST_REDIS_URL)
  redisProxy = await startTcpProxy(target.hostname, Number(target.port))
  t = await createFlagsApp(
    {
      flags: [
        { key: 'uploads', type: 'boolean', defaultValue: false },
        { key: 'limits', type: 'json', defaultValue: { max: 10 } },
        { key: 'theme', type: 'string', defaultValue: 'light' },
      ],
      pollSeconds: 0,
      maxStaleSeconds: 2,
      clock: clock.now,
    },
    {
      label: 'flagsof',
      core: { redis: redisProxy.url(TEST_REDIS_URL) },
      tenancy: {
        plans: {
          starter: { label: 'Starter', requestsPerMinute: null, seats: null, storageBytes: null },
          pro: {
            label: 'Pro',
            requestsPerMinute: null,
            seats: null,
            storageBytes: null,
            entitlements: ['uploads'],
          },
        },
      },
    },
  )
  for (const type of [
    ProviderEvents.Ready,
    ProviderEvents.Stale,
    ProviderEvents.ConfigurationChanged,
  ]) {
    OpenFeature.addHandler(type, (details) => {
      seen.push({ type, details })
    })
  }
  await OpenFeature.setProviderAndWait(new AcmeFlagsProvider(t.app.flags))
})
afterAll(async () => {
  await OpenFeature.close()
  await t?.close()
  await redisProxy?.close()
})

describe('through the OpenFeature SDK', () => {
  it('resolves values with their reason and variant; the plan comes first', async () => {
    const client = OpenFeature.getClient()
    const { tenantId } = await tenantOf(t, 'of')
    expect(await client.getBooleanValue('uploads', false, { tenantId, plan: 'pro' })).toBe(true)
    const details = await client.getBooleanDetails('uploads', true, { tenantId, plan: 'starter' })
    expect(details).toMatchObject({ value: false, reason: 'DEFAULT', variant: 'default' })
    await t.app.flags.admin.setOverride({ userId: null }, 'theme', tenantId, 'dark')
    expect(
      await client.getStringDetails('theme', 'light', { targetingKey: 'u1', tenantId }),
    ).toMatchObject({
      value: 'dark',
      reason: 'OVERRIDE',
    })
    expect(await client.getObjectValue('limits', {}, { tenantId })).toEqual({ max: 10 })
  })

  it('answers the default with FLAG_NOT_FOUND or TYPE_MISMATCH, as the SDK defines them', async () => {
    const client = OpenFeature.getClient()
    expect(await client.getBooleanDetails('missing', true)).toMatchObject({
      value: true,
      reason: 'ERROR',
      errorCode: 'FLAG_NOT_FOUND',
    })
    expect(await client.getNumberDetails('theme', 7)).toMatchObject({
      value: 7,
      reason: 'ERROR',
      errorCode: 'TYPE_MISMATCH',
    })
  })

  it('emits CONFIGURATION_CHANGED on a change, STALE when cut off past the max age, READY when back', async () => {
    const client = OpenFeature.getClient()
    await t.app.flags.admin.updateFlag({ userId: null }, 'theme', { defaultValue: 'blue' })
    await waitFor(() => seen.some((event) => event.type === ProviderEvents.ConfigurationChanged))

    await redisProxy.cut()
    await waitFor(() => t.app.flags.status().listening === false, { timeoutMs: 10_000 })
    clock.advance(2_001)
    await waitFor(() => seen.some((event) => event.type === ProviderEvents.Stale), {
      timeoutMs: 10_000,
    })
    expect(client.providerStatus).toBe('STALE')
    expect((await client.getStringDetails('theme', 'x')).reason).toBe('STALE')

    await redisProxy.restore()
    await waitFor(() => client.providerStatus === 'READY', { timeoutMs: 20_000 })
    expect((await client.getStringDetails('theme', 'x')).reason).toBe('DEFAULT')
  })
})
