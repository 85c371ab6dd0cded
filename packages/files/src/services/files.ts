import type { Readable } from 'node:stream'
import type { Clock } from '@acme/core'
import { FilesErrors } from '../errors.js'
import type { UploadLimits } from '../options.js'
import type { SqlClient, TransactionalClient } from '../sql.js'
import { type StorageDriver, StorageObjectMissing } from '../storage/driver.js'
import type { FileView } from '../types.js'
import type { DirectUploads } from './direct.js'
import { DOWNLOAD_PURPOSE, type Signer } from './signing.js'
import { fileStore, type NewFile, type StoredFile, toView } from './store.js'
import { receiveParts, removeAll, type UploadPart } from './upload.js'

export interface FileServiceDeps {
  storage: StorageDriver
  signer: Signer
  direct: DirectUploads
  clock: Clock
  signedUrlTtlSeconds: number
  /** The tenant's plan quota in bytes (null: unlimited). */
  quotaOf(plan: string): number | null
  /** Files start quarantined when a scanning hook is configured. */
  scanning: boolean
  /** After an upload committed: events, scan jobs. */
  uploaded(tenantId: string, files: readonly FileView[]): Promise<void>
  deleted(tenantId: string, fileId: string): Promise<void>
  /** Logs what could not be cleaned up (an object left in storage). */
  warn(context: Record<string, unknown>, message: string): void
}

/** Where a request's upload comes from, and who it is for. */
export interface UploadRequest {
  db: TransactionalClient
  tenantId: string
  plan: string
  ownerId: string
  parts: AsyncIterable<UploadPart>
  limits: UploadLimits
  /** True once the client went away: the upload is then abandoned before it is recorded. */
  aborted(): boolean
}

/** The files service: Fastify-free, each method given the tenant's database client. */
export class FileService {
  constructor(private readonly deps: FileServiceDeps) {}

  get storage(): StorageDriver {
    return this.deps.storage
  }

  async upload(request: UploadRequest): Promise<FileView[]> {
    const { db, tenantId } = request
    const quota = this.deps.quotaOf(request.plan)
    const used = quota === null ? 0 : await fileStore.usage(db, tenantId)
    if (quota !== null && used >= quota) throw new FilesErrors.QuotaExceeded()
    const files = await receiveParts(request.parts, {
      tenantId,
      ownerId: request.ownerId,
      storage: this.deps.storage,
      limits: request.limits,
      remainingBytes: quota === null ? null : quota - used,
      status: this.deps.scanning ? 'quarantined' : 'available',
    })
    return this.record(db, tenantId, files, quota, request.aborted)
  }

  /**
   * Reserves the quota and inserts the rows in one transaction; when it fails (over quota, the
   * client gone, the database down) the stored objects are removed: nothing stays behind.
   */
  async record(
    db: TransactionalClient,
    tenantId: string,
    files: readonly NewFile[],
    quota: number | null,
    aborted: () => boolean = () => false,
  ): Promise<FileView[]> {
    let views: FileView[]
    try {
      if (aborted()) throw new FilesErrors.MalformedUpload({ detail: 'The upload was abandoned.' })
      const total = files.reduce((sum, file) => sum + file.sizeBytes, 0)
      views = await db.$transaction(async (tx) => {
        await fileStore.reserve(tx, tenantId, total, quota)
        const rows: FileView[] = []
        for (const file of files) rows.push(toView(await fileStore.insert(tx, tenantId, file)))
        return rows
      })
    } catch (error) {
      await removeAll(this.deps.storage, files)
      throw error
    }
    await this.deps.uploaded(tenantId, views)
    return views
  }

  /** Signs a direct upload to storage (drivers with `presignPut` only). */
  startDirect(tenantId: string, ownerId: string, name: string, limits: UploadLimits) {
    return this.deps.direct.start(tenantId, ownerId, name, limits)
  }

  /**
   * Confirms a direct upload: the pending object goes through the upload route's checks into a
   * file of its own (sniffed, hashed, parsed, counted against the quota) before any row shows
   * it; a refused one is removed.
   */
  async confirmDirect(
    request: Omit<UploadRequest, 'parts' | 'aborted'> & { ticket: string },
  ): Promise<FileView> {
    const { direct } = this.deps
    const ticket = direct.read(request.ticket, request.tenantId, request.ownerId)
    try {
      const part = await direct.open(ticket, request.limits)
      const [file] = await this.upload({
        ...request,
        parts: (async function* () {
          yield part
        })(),
        aborted: () => false,
      })
      await direct.discard(ticket)
      return file as FileView
    } catch (error) {
      return direct.settle(ticket, error)
    }
  }

  get(db: SqlClient, tenantId: string, fileId: string): Promise<StoredFile> {
    return fileStore.get(db, tenantId, fileId)
  }

  list(
    db: SqlClient,
    tenantId: string,
    query: { limit: number; cursor?: string | undefined; ownerId?: string | undefined },
  ) {
    return fileStore.list(db, tenantId, query)
  }

  /** Deletes the row and gives its bytes back to the quota, then removes the object. */
  async remove(db: TransactionalClient, tenantId: string, fileId: string): Promise<void> {
    const file = await db.$transaction(async (tx) => {
      const removed = await fileStore.remove(tx, tenantId, fileId)
      await fileStore.release(tx, tenantId, removed.sizeBytes)
      return removed
    })
    await this.deps.storage.delete(file.storageKey).catch((error: unknown) => {
      // The row is gone (nothing shows the file) and the quota is given back; the object is an
      // orphan to remove by its key.
      this.deps.warn(
        { err: error, storageKey: file.storageKey },
        'files: the object of a deleted file was not removed',
      )
    })
    await this.deps.deleted(tenantId, fileId)
  }

  /** The bytes of a file that may be downloaded (not in quarantine). */
  async open(file: StoredFile): Promise<Readable> {
    if (file.status !== 'available') throw new FilesErrors.Quarantined()
    try {
      return await this.deps.storage.get(file.storageKey)
    } catch (error) {
      if (error instanceof StorageObjectMissing) {
        this.deps.warn({ storageKey: file.storageKey }, 'files: a file has no stored object')
        throw new FilesErrors.FileNotFound()
      }
      throw new FilesErrors.StorageUnavailable({ cause: error })
    }
  }

  /** A download link bound to the tenant and the file, valid `signedUrlTtlSeconds`. */
  signedLink(tenantId: string, fileId: string): { expires: number; signature: string } {
    const expires = Math.floor(this.deps.clock().getTime() / 1000) + this.deps.signedUrlTtlSeconds
    const signature = this.deps.signer.sign(DOWNLOAD_PURPOSE, [tenantId, fileId, String(expires)])
    return { expires, signature }
  }

  /**
   * Checks a link: a signature that does not verify (another tenant's, another file's, altered)
   * is a 404 like an unknown file; a genuine one past its time is a 403 saying so.
   */
  checkLink(tenantId: string, fileId: string, expires: number, signature: string): void {
    const valid = this.deps.signer.verify(
      DOWNLOAD_PURPOSE,
      [tenantId, fileId, String(expires)],
      signature,
    )
    if (!valid) throw new FilesErrors.SignatureInvalid()
    if (expires * 1000 <= this.deps.clock().getTime()) throw new FilesErrors.LinkExpired()
  }
}
