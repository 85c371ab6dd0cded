import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { waitFor } from '@acme/test-kit'
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

const REQUESTS = 20
const JOBS = 5

describe('graceful shutdown', () => {
  it('finishes 20 in-flight requests and 5 running jobs before closing, and refuses new connections', async () => {
    let releaseRequests: () => void = () => {}
    const released = new Promise<void>((resolve) => {
      releaseRequests = resolve
    })
    let requestsStarted = 0
    let jobsStarted = 0
    let jobsFinished = 0

    const { app } = await buildTestApp({}, (instance) => {
      instance.get('/slow/:n', async (request) => {
        requestsStarted++
        await released
        return { finished: (request.params as { n: string }).n }
      })
      const handle = instance.jobs.define({
        name: 'test.slow-report',
        schema: z.object({ id: z.string() }),
        concurrency: JOBS,
        handler: async () => {
          jobsStarted++
          await new Promise((resolve) => setTimeout(resolve, 300))
          jobsFinished++
        },
      })
      instance.addHook('onReady', async () => {
        for (let i = 0; i < JOBS; i++) await handle.enqueue({ id: `r${i}` })
      })
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const { port } = app.server.address() as AddressInfo

    const inFlight = Array.from({ length: REQUESTS }, (_, n) => get(port, `/slow/${n}`))
    await waitFor(() => requestsStarted === REQUESTS && jobsStarted === JOBS)
    const closing = app.close()
    await new Promise((resolve) => setTimeout(resolve, 50))
    await expect(get(port, '/health/live')).rejects.toThrow(
      /ECONNREFUSED|ECONNRESET|socket hang up/,
    )

    releaseRequests()
    const responses = await Promise.all(inFlight)
    expect(responses).toEqual(
      Array.from({ length: REQUESTS }, (_, n) => ({
        status: 200,
        body: JSON.stringify({ finished: String(n) }),
      })),
    )
    await closing
    expect(jobsFinished).toBe(JOBS)
  })
})
