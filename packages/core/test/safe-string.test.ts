import type { FastifyInstance } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { hasUnsafeCharacters, safeJsonObject, safeString, safeText } from '../src/index.js'
import { buildTestApp, type TestApp } from './support/app.js'

const hostile = [
  ['a NUL character', 'a\u0000b'],
  ['an escape sequence', 'red\u001b[31m'],
  ['DEL', 'a\u007fb'],
  ['a lone high surrogate', 'x\ud800y'],
  ['a lone low surrogate', 'x\udc00y'],
  ['a reversed pair', 'x\udc00\ud800y'],
  ['a high surrogate at the end', 'x\ud83d'],
] as const

describe('safeString and safeText', () => {
  it.each(hostile)('refuse %s', (_label, value) => {
    expect(safeString().safeParse(value).success).toBe(false)
    expect(safeText().safeParse(value).success).toBe(false)
    expect(hasUnsafeCharacters(value)).toBe(true)
  })

  it('accept any well-formed text, emoji and other scripts included', () => {
    for (const value of ['Initech', 'Zoë 🚀 東京', 'a\u00a0b', '']) {
      expect(safeString().safeParse(value).success).toBe(true)
      expect(hasUnsafeCharacters(value)).toBe(false)
    }
  })

  it('keep line breaks and tabs for text, not for one-line strings', () => {
    expect(safeText().safeParse('line one\r\nline\ttwo').success).toBe(true)
    expect(safeString().safeParse('line one\nline two').success).toBe(false)
  })

  it('chain like any zod string, the check running on the raw input', () => {
    const name = safeString().trim().min(1).max(5)
    expect(name.parse('  ab  ')).toBe('ab')
    expect(name.safeParse('abcdef').success).toBe(false)
    expect(name.safeParse(' \u0000 ').success).toBe(false)
  })
})

describe('safeJsonObject', () => {
  it('refuses a hostile string or key at any depth, naming its path', () => {
    const schema = safeJsonObject()
    const nested = schema.safeParse({ theme: { colours: ['red', 'x\u0000'] } })
    expect(nested.success).toBe(false)
    expect(nested.error?.issues[0]?.path).toEqual(['theme', 'colours', 1])
    expect(schema.safeParse({ 'k\ud800': 1 }).success).toBe(false)
  })

  it('refuses nesting deeper than allowed, and accepts ordinary settings', () => {
    let deep: unknown = 'leaf'
    for (let i = 0; i < 20; i++) deep = { next: deep }
    expect(safeJsonObject(16).safeParse(deep).success).toBe(false)
    const settings = { theme: 'dark', limits: { seats: 5, beta: true, tags: ['a', 'b'] }, n: null }
    expect(safeJsonObject().parse(settings)).toEqual(settings)
  })
})

describe('a route using them', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await buildTestApp({}, (app: FastifyInstance) => {
      app.withTypeProvider<ZodTypeProvider>().post(
        '/projects',
        {
          schema: {
            body: z
              .object({ name: safeString().trim().min(1).max(100), settings: safeJsonObject() })
              .strict(),
          },
        },
        async (request) => ({ name: request.body.name }),
      )
    })
  })
  afterAll(async () => {
    await t.app.close()
  })

  it.each(hostile)('answers %s with a 400 naming the field', async (_label, value) => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/projects',
      payload: { name: value, settings: {} },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json()).toMatchObject({
      code: 'ACME_CORE_VALIDATION_FAILED',
      errors: [expect.objectContaining({ in: 'body', pointer: '/name', reason: 'custom' })],
    })
  })

  it('answers a hostile settings value with a 400 pointing into it', async () => {
    const response = await t.app.inject({
      method: 'POST',
      url: '/projects',
      payload: { name: 'Apollo', settings: { labels: ['ok', 'bad\u0000'] } },
    })
    expect(response.statusCode).toBe(400)
    expect(response.json().errors[0].pointer).toBe('/settings/labels/1')
  })
})
