import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { buildTestApp, type TestApp } from './support/app.js'

const member = z.object({
  id: z.string(),
  email: z.string(),
  joinedAt: z.date(),
  role: z.enum(['owner', 'member']).nullable(),
  profile: z.object({ name: z.string(), bio: z.string().optional() }),
})

const row = {
  id: 'm1',
  email: 'ann@initech.test',
  joinedAt: new Date('2026-01-02T03:04:05.000Z'),
  role: null,
  passwordHash: '$argon2id$v=19$secret',
  profile: { name: 'Ann', totpSecret: 'JBSWY3DPEHPK3PXP' },
}

let t: TestApp
beforeAll(async () => {
  t = await buildTestApp({}, (app) => {
    const routes = app.withTypeProvider<ZodTypeProvider>()
    routes.get('/members', { schema: { response: { 200: z.array(member) } } }, async () => [
      row,
      row,
    ])
    const money = z.codec(z.string(), z.number(), {
      decode: (text) => Number(text) * 100,
      encode: (cents) => (cents / 100).toFixed(2),
    })
    routes.get(
      '/cents',
      { schema: { response: { 200: z.object({ total: money }) } } },
      async () => ({ total: 1234 }),
    )
  })
})
afterAll(async () => {
  await t.app.close()
})

describe('response serialization', () => {
  it('writes only declared fields, at every depth, and dates as ISO strings', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/members' })
    expect(response.statusCode).toBe(200)
    const expected = {
      id: 'm1',
      email: 'ann@initech.test',
      joinedAt: '2026-01-02T03:04:05.000Z',
      role: null,
      profile: { name: 'Ann' },
    }
    expect(response.json()).toEqual([expected, expected])
    expect(response.body).not.toContain('argon2id')
    expect(response.body).not.toContain('JBSWY3DPEHPK3PXP')
  })

  it('encodes codecs, which JSON Schema cannot express, through zod', async () => {
    const response = await t.app.inject({ method: 'GET', url: '/cents' })
    expect(response.json()).toEqual({ total: '12.34' })
  })
})
