import type { Readable } from 'node:stream'
import yauzl from 'yauzl'
import type { StorageDriver } from '../storage/driver.js'

/** Reads bytes `[start, end)` of a stored object. */
export type ReadRange = (start: number, end: number) => Promise<Buffer>

/**
 * Bytes fetched per read: the central directory is read entry by entry (a few dozen bytes at a
 * time), so reads are served from one block fetched ahead, not one storage request each.
 */
const BLOCK_BYTES = 256 * 1024

/**
 * yauzl's view of a stored object, through the storage driver's ranged reads: only the end of
 * the archive (its central directory) is ever read, never the entries' contents.
 */
export class StoredArchiveReader extends yauzl.RandomAccessReader {
  #block: { start: number; bytes: Buffer } | null = null

  constructor(
    private readonly readRange: ReadRange,
    private readonly size: number,
  ) {
    super()
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (error: Error | null) => void,
  ): void {
    const done = callback as (error: Error | null, bytesRead?: number) => void
    this.bytesAt(position, length).then(
      (bytes) => {
        bytes.copy(buffer, offset)
        done(null, bytes.length)
      },
      (error: unknown) => done(error instanceof Error ? error : new Error(String(error))),
    )
  }

  override _readStreamForRange(): Readable {
    throw new Error('the contents of archive entries are never read')
  }

  private async bytesAt(position: number, length: number): Promise<Buffer> {
    const block = this.#block
    if (block && position >= block.start && position + length <= block.start + block.bytes.length) {
      return block.bytes.subarray(position - block.start, position - block.start + length)
    }
    const end = Math.min(this.size, position + Math.max(length, BLOCK_BYTES))
    const bytes = await this.readRange(position, end)
    this.#block = { start: position, bytes }
    return bytes.subarray(0, length)
  }
}

/**
 * Ranged reads of a stored object: the driver's own, or for a driver without them, the object
 * read from its start through `get` and cut (slower, same answer).
 */
export function rangeReaderOf(storage: StorageDriver, key: string): ReadRange {
  const readRange = storage.readRange?.bind(storage)
  if (readRange) return (start, end) => readRange(key, start, end)
  return async (start, end) => {
    const chunks: Buffer[] = []
    let at = 0
    for await (const chunk of await storage.get(key)) {
      const bytes = chunk as Buffer
      const from = Math.max(start - at, 0)
      const to = Math.min(end - at, bytes.length)
      if (to > from) chunks.push(bytes.subarray(from, to))
      at += bytes.length
      if (at >= end) break
    }
    return Buffer.concat(chunks)
  }
}
