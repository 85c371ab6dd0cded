import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { acmeCore, defaultBaseUrl } from '../src/index.js'

const savedPort = process.env.PORT

afterEach(() => {
  if (savedPort === undefined) delete process.env.PORT
  else process.env.PORT = savedPort
})

describe('the default base URL', () => {
  it('is localhost on the port PORT names', () => {
    expect(defaultBaseUrl({ PORT: '4123' })).toBe('http://localhost:4123')
    expect(defaultBaseUrl({ PORT: ' 8080 ' })).toBe('http://localhost:8080')
  })

  it.each([
    ['unset', undefined],
    ['empty', ''],
    ['not a number', 'http'],
    ['0 (any free port, unknown before listen)', '0'],
    ['out of range', '70000'],
  ])('is localhost:3000 when PORT is %s', (_label, port) => {
    expect(defaultBaseUrl({ PORT: port })).toBe('http://localhost:3000')
  })

  it('puts the port PORT names in problem types and the OpenAPI server of an app without one', async () => {
    process.env.PORT = '4123'
    const app = Fastify({ logger: false })
    await app.register(acmeCore, { brand: { name: 'Initech' }, mail: { transport: 'memory' } })
    await app.ready()
    try {
      expect(app.brand.baseUrl).toBe('http://localhost:4123')
      const missing = await app.inject({ method: 'GET', url: '/nowhere' })
      expect(missing.json().type).toMatch(/^http:\/\/localhost:4123\/problems\//)
      const document = (await app.inject({ method: 'GET', url: '/docs/openapi.json' })).json()
      expect(document.servers).toEqual([{ url: 'http://localhost:4123' }])
    } finally {
      await app.close()
    }
  })

  it('gives way to a base URL the app names', async () => {
    process.env.PORT = '4123'
    const app = Fastify({ logger: false })
    await app.register(acmeCore, {
      brand: { name: 'Initech', baseUrl: 'https://api.initech.test/' },
      mail: { transport: 'memory' },
    })
    await app.ready()
    expect(app.brand.baseUrl).toBe('https://api.initech.test')
    await app.close()
  })
})
