import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { buildTestApp } from './support/app.js'

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => {
        body += chunk.toString()
      })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on('error', reject)
    request.end()
  })
}

describe('graceful shutdown', () => {
  it('finishes in-flight requests and running jobs before closing, and refuses new connections', async () => {
    let releaseRequest: () => void = () => {}
    let requestStarted: () => void = () => {}
    const started = new Promise<void>((resolve) => {
      requestStarted = resolve
    })
    let jobFinished = false
    let jobStarted: () => void = () => {}
    const jobRunning = new Promise<void>((resolve) => {
      jobStarted = resolve
    })

    const { app } = await buildTestApp({}, (instance) => {
      instance.get('/slow', async () => {
        requestStarted()
        await new Promise<void>((resolve) => {
          releaseRequest = resolve
        })
        return { finished: true }
      })
      const handle = instance.jobs.define({
        name: 'test.slow-report',
        schema: z.object({ id: z.string() }),
        handler: async () => {
          jobStarted()
          await new Promise((resolve) => setTimeout(resolve, 300))
          jobFinished = true
        },
      })
      instance.addHook('onReady', async () => {
        await handle.enqueue({ id: 'r1' })
      })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo

    const inFlight = get(port, '/slow')
    await started
    await jobRunning
    const closing = app.close()
    await new Promise((resolve) => setTimeout(resolve, 50))
    await expect(get(port, '/health/live')).rejects.toThrow(
      /ECONNREFUSED|ECONNRESET|socket hang up/,
    )

    releaseRequest()
    const response = await inFlight
    expect(response).toEqual({ status: 200, body: JSON.stringify({ finished: true }) })
    await closing
    expect(jobFinished).toBe(true)
  })
})
