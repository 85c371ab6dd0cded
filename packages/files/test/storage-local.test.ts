import { randomUUID } from 'node:crypto'
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { LocalDiskDriver, StorageObjectMissing } from '../src/index.js'

const keyOf = () => `${randomUUID()}/${randomUUID()}`

describe('the local-disk driver', () => {
  let directory: string
  let driver: LocalDiskDriver
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'acme-files-local-'))
    driver = new LocalDiskDriver(directory)
  })
  afterEach(async () => rm(directory, { recursive: true, force: true }))

  it('stores a stream under its key and reads it back, streamed', async () => {
    const key = keyOf()
    const info = await driver.put(
      key,
      Readable.from([Buffer.from('hello '), Buffer.from('world')]),
      {
        contentType: 'text/plain',
      },
    )
    expect(info).toEqual({ sizeBytes: 11 })
    expect(await driver.head(key)).toEqual({ sizeBytes: 11 })
    expect(await text(await driver.get(key))).toBe('hello world')
    expect((await driver.readHead(key, 5)).toString()).toBe('hello')
  })

  it('leaves nothing, not even a partial file, when the stream fails midway', async () => {
    const key = keyOf()
    async function* failing() {
      yield Buffer.alloc(64 * 1024, 1)
      throw new Error('client went away')
    }
    await expect(driver.put(key, Readable.from(failing()), { contentType: 'x/y' })).rejects.toThrow(
      'client went away',
    )
    expect(await driver.head(key)).toBeNull()
    const [tenantFolder] = await readdir(directory)
    expect(await readdir(join(directory, tenantFolder as string))).toEqual([])
  })

  it('answers a missing object as missing, and deleting it twice is fine', async () => {
    const key = keyOf()
    await expect(driver.get(key)).rejects.toBeInstanceOf(StorageObjectMissing)
    expect(await driver.head(key)).toBeNull()
    await driver.put(key, Readable.from([Buffer.from('x')]), { contentType: 'text/plain' })
    await driver.delete(key)
    await driver.delete(key)
    expect(await driver.head(key)).toBeNull()
  })

  it('refuses keys it did not generate: no path can leave its folder', async () => {
    for (const key of ['../../etc/passwd', `${randomUUID()}/../../x`, '/etc/passwd', 'a\0b']) {
      await expect(driver.head(key)).rejects.toThrow(TypeError)
      await expect(
        driver.put(key, Readable.from([Buffer.from('x')]), { contentType: 'text/plain' }),
      ).rejects.toThrow(TypeError)
    }
  })

  it('sweeps the temporary files a crash left behind, and only old ones', async () => {
    const key = keyOf()
    await driver.put(key, Readable.from([Buffer.from('kept')]), { contentType: 'text/plain' })
    const folder = join(directory, key.split('/')[0] as string)
    const old = join(folder, 'abandoned.part')
    const fresh = join(folder, 'in-progress.part')
    await writeFile(old, 'x')
    await writeFile(fresh, 'y')
    const hourAgo = new Date(Date.now() - 3_600_000)
    await utimes(old, hourAgo, hourAgo)
    expect(await driver.sweepPartials(new Date(Date.now() - 60_000))).toBe(1)
    expect((await readdir(folder)).sort()).toEqual([key.split('/')[1], 'in-progress.part'].sort())
    expect(await new LocalDiskDriver(join(directory, 'none')).sweepPartials(new Date())).toBe(0)
  })
})
