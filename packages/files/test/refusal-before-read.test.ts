import { mkdtemp, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LocalDiskDriver } from '../src/index.js'
import { createFilesApp, type FilesTestApp, multipart, ownerOfNewTenant } from './support/app.js'

/** A store that, like a remote one, does some work of its own before it reads the upload. */
class SlowToReadDriver extends LocalDiskDriver {
  override async put(key: string, body: Readable, info: { contentType: string }) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    return super.put(key, body, info)
  }
}

describe('a refusal made before the store reads the upload', () => {
  let t: FilesTestApp
  let directory: string
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'acme-files-slow-'))
    t = await createFilesApp({
      storage: new SlowToReadDriver(directory),
      upload: { maxFileBytes: 1024 },
    })
  })
  afterAll(async () => t?.close())

  it('answers 413, stores nothing, and leaves the process running', async () => {
    const owner = await ownerOfNewTenant(t, 'slow@example.com', 'Slow')
    const body = multipart([{ name: 'notes.txt', content: Buffer.alloc(64 * 1024, 'a') }])
    const response = await t.app.inject({
      method: 'POST',
      url: `/tenants/${owner.tenantId}/files`,
      headers: { ...owner.headers, ...body.headers },
      payload: body.payload,
    })
    expect(response.statusCode).toBe(413)
    expect(response.json().code).toBe('ACME_FILES_FILE_TOO_LARGE')
    const left = await readdir(join(directory, owner.tenantId)).catch(() => [])
    expect(left).toEqual([])
    // An 'error' nobody listened to would have ended the run as an uncaught exception by now.
    const again = await t.app.inject({ method: 'GET', url: '/health/live' })
    expect(again.statusCode).toBe(200)
  })
})
