import type { Readable } from 'node:stream'

/** What a driver says about a stored object. */
export interface StoredObjectInfo {
  sizeBytes: number
}

/** One stored object, as a driver lists it. */
export interface StoredObjectSummary {
  key: string
  lastModified: Date
}

/** A presigned direct upload: the client sends the bytes with this method, URL and headers. */
export interface PresignedUpload {
  method: 'PUT'
  url: string
  headers: Record<string, string>
  expiresAt: Date
}

/**
 * Where file bytes live. Keys are server-generated (`<tenantId>/<uuid>`), never derived from a
 * client's name; a driver may still refuse a key that is not of that shape.
 *
 * `put` consumes the stream to the end and stores the object whole or not at all: when the
 * stream errors (a client that disconnects, a limit the caller enforces by destroying it), it
 * rejects and leaves nothing under the key, not even a partial object.
 */
export interface StorageDriver {
  /** `local` or `s3`: shown in logs and health checks. */
  readonly kind: string
  put(key: string, body: Readable, info: { contentType: string }): Promise<StoredObjectInfo>
  /** The object's bytes, streamed; rejects with `StorageObjectMissing` when there is none. */
  get(key: string): Promise<Readable>
  /** Size of the stored object, or null when there is none. */
  head(key: string): Promise<StoredObjectInfo | null>
  /** Removes the object; succeeds when there was none. */
  delete(key: string): Promise<void>
  /** Reading a range of an object's first bytes (sniffing a direct upload). */
  readHead(key: string, bytes: number): Promise<Buffer>
  /**
   * Bytes `[start, end)` of an object (reading an archive's directory at its end). Optional: a
   * driver without it is read from the start through `get`.
   */
  readRange?(key: string, start: number, end: number): Promise<Buffer>
  /** Direct-to-storage uploads: only drivers whose store accepts presigned requests. */
  presignPut?(
    key: string,
    options: { contentType: string; contentLength: number; expiresInSeconds: number },
  ): Promise<PresignedUpload>
  /**
   * Every stored object under a key of this product (`pending/` ones excepted), in pages: the
   * sweeper compares them with the recorded files. Optional: without it, nothing is swept.
   */
  list?(): AsyncIterable<StoredObjectSummary[]>
  /** Checks the store answers (for monitoring; not part of the app's readiness). */
  check?(): Promise<void>
}

/** Thrown by `get` for a key with no object. */
export class StorageObjectMissing extends Error {
  readonly code = 'ACME_FILES_OBJECT_MISSING'
  constructor(key: string) {
    super(`No stored object under ${key}`)
  }
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

/**
 * Keys the product generates: `<tenantId>/<fileId>`, and `pending/<tenantId>/<id>` for direct
 * uploads not confirmed yet (a bucket lifecycle rule on `pending/` expires abandoned ones).
 * Drivers refuse anything else, so no key can name a path outside the store.
 */
export const STORAGE_KEY = new RegExp(`^(?:pending/)?${UUID}/${UUID}$`)

export function assertStorageKey(key: string): void {
  if (!STORAGE_KEY.test(key)) throw new TypeError('Not a storage key of this product')
}
