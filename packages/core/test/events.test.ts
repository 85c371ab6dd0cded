import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { type DomainEvent, getRequestContext } from '../src/index.js'
import { buildTestApp, type TestApp } from './support/app.js'

declare module '../src/index.js' {
  interface AcmeEvents {
    'invoice.paid': { invoiceId: string; amountCents: number }
    'invoice.voided': { invoiceId: string }
  }
}

/** A service with no access to `request`: it reads the request context instead. */
function markInvoicePaid(app: TestApp['app'], invoiceId: string) {
  const context = getRequestContext()
  if (context) context.user = { id: 'user-7' }
  return app.events.emit('invoice.paid', { invoiceId, amountCents: 1200 })
}

let t: TestApp
beforeAll(async () => {
  t = await buildTestApp({}, (app) => {
    app.post('/invoices/:id/pay', async (request) => {
      await markInvoicePaid(app, (request.params as { id: string }).id)
      return { ok: true }
    })
  })
})
afterAll(async () => {
  await t.app.close()
})

describe('events', () => {
  it('delivers typed events with the request id and actor from the request context', async () => {
    const received: DomainEvent<'invoice.paid'>[] = []
    const off = t.app.events.on('invoice.paid', (event) => {
      expectTypeOf(event.payload).toEqualTypeOf<{ invoiceId: string; amountCents: number }>()
      received.push(event)
    })
    const response = await t.app.inject({ method: 'POST', url: '/invoices/inv-1/pay' })
    off()
    expect(response.statusCode).toBe(200)
    expect(received).toHaveLength(1)
    expect(received[0]).toMatchObject({
      name: 'invoice.paid',
      payload: { invoiceId: 'inv-1', amountCents: 1200 },
      requestId: response.headers['x-request-id'],
      actorId: 'user-7',
      tenantId: null,
    })
    expect(received[0]?.occurredAt).toBeInstanceOf(Date)
  })

  it('has no context outside a request, and events emitted there carry nulls', async () => {
    expect(getRequestContext()).toBeUndefined()
    const seen: DomainEvent[] = []
    const off = t.app.events.onAny((event) => {
      seen.push(event)
    })
    await t.app.events.emit('invoice.voided', { invoiceId: 'inv-2' })
    off()
    expect(seen).toEqual([expect.objectContaining({ name: 'invoice.voided', requestId: null })])
  })

  it('a failing subscriber is logged and does not stop the others or the emitter', async () => {
    const delivered: string[] = []
    const offs = [
      t.app.events.on('invoice.voided', () => {
        throw new Error('subscriber exploded')
      }),
      t.app.events.on('invoice.voided', async (event) => {
        delivered.push(event.payload.invoiceId)
      }),
    ]
    await expect(
      t.app.events.emit('invoice.voided', { invoiceId: 'inv-3' }),
    ).resolves.toBeUndefined()
    for (const off of offs) off()
    expect(delivered).toEqual(['inv-3'])
    expect(t.rawLogs()).toContain('subscriber exploded')
  })

  it('unsubscribing stops delivery', async () => {
    let count = 0
    const off = t.app.events.on('invoice.voided', () => {
      count++
    })
    off()
    await t.app.events.emit('invoice.voided', { invoiceId: 'inv-4' })
    expect(count).toBe(0)
  })
})
