import { randomBytes } from 'node:crypto'
import type { TestApp } from '@acme/test-support'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createAuthApp } from './support/app.js'

const LIMIT = 20
let t: TestApp

beforeAll(async () => {
  t = await createAuthApp(
    {},
    {
      label: 'auth_flood',
      core: { rateLimit: { max: LIMIT, timeWindowMs: 60_000 } },
      routes: (app) => {
        app.permissions.declare('app', [{ name: 'reports:read', description: 'Read reports.' }])
        app.get('/reports', { config: { auth: 'required', permission: 'reports:read' } }, () => ({
          ok: true,
        }))
      },
    },
  )
})
afterAll(async () => {
  await t?.close()
})

const madeUpKey = () =>
  `ak_${randomBytes(9).toString('base64url').replace(/[-_]/g, 'A').slice(0, 12)}_${randomBytes(32).toString('base64url')}`

describe('a flood of forged credentials from one client', () => {
  it.each([
    ['unknown API keys', () => ({ 'x-api-key': madeUpKey() })],
    [
      'forged bearer tokens',
      () => ({ authorization: `Bearer eyJ${randomBytes(40).toString('base64url')}` }),
    ],
  ])('is answered 429 past the global limit, not 401 forever (%s)', async (_label, headers) => {
    const remoteAddress = `198.51.100.${_label.length}`
    const counts = new Map<number, number>()
    for (let i = 0; i < 130; i++) {
      const response = await t.app.inject({ url: '/reports', headers: headers(), remoteAddress })
      counts.set(response.statusCode, (counts.get(response.statusCode) ?? 0) + 1)
      if (response.statusCode === 429) expect(response.json().code).toBe('ACME_CORE_RATE_LIMITED')
    }
    expect(Object.fromEntries(counts)).toEqual({ 401: LIMIT, 429: 130 - LIMIT })
  })
})
