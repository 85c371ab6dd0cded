import { randomUUID } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  assertStorageKey,
  STORAGE_KEY,
  type StorageDriver,
  StorageObjectMissing,
  type StoredObjectInfo,
  type StoredObjectSummary,
} from './driver.js'

/** Objects per page of `list`. */
const LIST_PAGE = 1_000

/**
 * Bytes a write may queue while the previous one is on disk. The stream's 16 KiB default makes
 * one write call per network chunk; with room for several, they go down together (one `writev`),
 * which measured about half the event-loop time of writing a 100 MiB upload. Bounded: memory
 * stays flat whatever the file's size.
 */
const WRITE_BUFFER_BYTES = 1024 * 1024

/**
 * Files on local disk under `directory`, one file per key (`<directory>/<tenantId>/<uuid>`).
 * Writes go to a temporary name beside the target and are renamed once complete, so a reader
 * never sees a partial file and a failed write leaves none.
 */
export class LocalDiskDriver implements StorageDriver {
  readonly kind = 'local'
  readonly directory: string

  constructor(directory: string) {
    this.directory = resolve(directory)
  }

  private pathOf(key: string): string {
    assertStorageKey(key)
    return join(this.directory, key)
  }

  async put(
    key: string,
    body: Readable,
    _info?: { contentType: string },
  ): Promise<StoredObjectInfo> {
    const target = this.pathOf(key)
    await mkdir(join(target, '..'), { recursive: true })
    const partial = `${target}.${randomUUID()}.part`
    try {
      await pipeline(
        body,
        createWriteStream(partial, { flags: 'wx', mode: 0o600, highWaterMark: WRITE_BUFFER_BYTES }),
      )
      const { size } = await stat(partial)
      await rename(partial, target)
      return { sizeBytes: size }
    } catch (error) {
      await rm(partial, { force: true })
      throw error
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key)
    // Opened first so a missing file rejects here, not as a stream error mid-response.
    const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new StorageObjectMissing(key)
      throw error
    })
    return handle.createReadStream()
  }

  async head(key: string): Promise<StoredObjectInfo | null> {
    try {
      return { sizeBytes: (await stat(this.pathOf(key))).size }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
      throw error
    }
  }

  readHead(key: string, bytes: number): Promise<Buffer> {
    return this.readRange(key, 0, bytes)
  }

  async readRange(key: string, start: number, end: number): Promise<Buffer> {
    const handle = await open(this.pathOf(key), 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new StorageObjectMissing(key)
      throw error
    })
    try {
      const buffer = Buffer.alloc(Math.max(0, end - start))
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, start)
      return buffer.subarray(0, bytesRead)
    } finally {
      await handle.close()
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true })
  }

  /** Every stored object (one folder per tenant), a page at a time; temporary files are not. */
  async *list(): AsyncGenerator<StoredObjectSummary[]> {
    for (const tenant of await entriesOf(this.directory)) {
      if (!tenant.isDirectory()) continue
      let page: StoredObjectSummary[] = []
      for (const entry of await entriesOf(join(this.directory, tenant.name))) {
        const key = `${tenant.name}/${entry.name}`
        if (!entry.isFile() || !STORAGE_KEY.test(key)) continue
        // Gone since the folder was read (deleted meanwhile): nothing to list.
        const stats = await stat(join(this.directory, key)).catch(() => null)
        if (stats) page.push({ key, lastModified: stats.mtime })
        if (page.length >= LIST_PAGE) {
          yield page
          page = []
        }
      }
      if (page.length > 0) yield page
    }
  }

  /**
   * Removes temporary files (`*.part`) last written before `olderThan`: what a process that
   * crashed mid-upload left behind. Run it from a scheduled job, with a margin longer than any
   * upload (an hour, say). Answers how many it removed.
   */
  async sweepPartials(olderThan: Date): Promise<number> {
    let removed = 0
    const entries = await readdir(this.directory, { recursive: true, withFileTypes: true }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return []
        throw error
      },
    )
    for (const entry of entries) {
      if (!entry.isFile() || !entry.name.endsWith('.part')) continue
      const path = join(entry.parentPath, entry.name)
      const { mtime } = await stat(path).catch(() => ({ mtime: new Date() }))
      if (mtime < olderThan) {
        await rm(path, { force: true })
        removed += 1
      }
    }
    return removed
  }
}

/** A folder's entries; none when it does not exist (nothing stored yet, or removed meanwhile). */
async function entriesOf(folder: string) {
  return readdir(folder, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return []
    throw error
  })
}
