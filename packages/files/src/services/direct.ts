import { randomUUID } from 'node:crypto'
import { isAcmeError } from '@acme/core'
import { FilesErrors } from '../errors.js'
import { sanitiseFileName } from '../names.js'
import type { UploadLimits } from '../options.js'
import type { PresignedUpload, StorageDriver } from '../storage/driver.js'
import { DIRECT_UPLOAD_PURPOSE, type Signer } from './signing.js'

/** What a direct-upload ticket carries: signed, so the client cannot change any of it. */
export interface Ticket {
  /** Tenant. */
  t: string
  /** Owner (the caller who asked for it). */
  o: string
  /** The pending object's id: the client uploads to `pending/<tenant>/<p>`. */
  p: string
  /** Sanitised name. */
  n: string
  /** Expiry, seconds since the epoch. */
  e: number
}

/**
 * Direct-to-storage uploads: the server signs a PUT to a pending key of its own choosing and a
 * ticket naming it; the client uploads there, then confirms. Confirming streams the pending
 * object through the upload route's checks into a new key (so what is recorded is exactly what
 * was inspected, whatever the client PUTs afterwards) and removes the pending object.
 */
export class DirectUploads {
  constructor(
    private readonly deps: {
      storage: StorageDriver
      signer: Signer
      now: () => Date
      ttlSeconds: number
    },
  ) {}

  async start(
    tenantId: string,
    ownerId: string,
    name: string,
    limits: UploadLimits,
  ): Promise<{ ticket: string; upload: PresignedUpload }> {
    const presign = this.deps.storage.presignPut?.bind(this.deps.storage)
    if (!presign) throw new FilesErrors.DirectUploadUnavailable()
    const ticket: Ticket = {
      t: tenantId,
      o: ownerId,
      p: randomUUID(),
      n: sanitiseFileName(name),
      e: Math.floor(this.deps.now().getTime() / 1000) + this.deps.ttlSeconds,
    }
    const upload = await presign(pendingKey(ticket), {
      contentType: 'application/octet-stream',
      contentLength: limits.maxFileBytes,
      expiresInSeconds: this.deps.ttlSeconds,
    })
    const payload = Buffer.from(JSON.stringify(ticket)).toString('base64url')
    return {
      ticket: `${payload}.${this.deps.signer.sign(DIRECT_UPLOAD_PURPOSE, [payload])}`,
      upload: { ...upload, expiresAt: new Date(ticket.e * 1000) },
    }
  }

  /** The ticket's contents, when it is genuine, this tenant's and this caller's, and current. */
  read(ticket: string, tenantId: string, ownerId: string): Ticket {
    const [payload, signature, extra] = ticket.split('.')
    if (!payload || !signature || extra !== undefined) throw new FilesErrors.UploadNotFound()
    if (!this.deps.signer.verify(DIRECT_UPLOAD_PURPOSE, [payload], signature)) {
      throw new FilesErrors.UploadNotFound()
    }
    const parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Ticket
    // Another tenant's or another user's ticket is answered as an unknown one.
    if (parsed.t !== tenantId || parsed.o !== ownerId) throw new FilesErrors.UploadNotFound()
    if (parsed.e * 1000 <= this.deps.now().getTime()) throw new FilesErrors.UploadNotFound()
    return parsed
  }

  /** The pending object as one multipart-like file part, after a size check on its head. */
  async open(ticket: Ticket, limits: UploadLimits) {
    const key = pendingKey(ticket)
    const head = await this.deps.storage.head(key)
    if (!head) throw new FilesErrors.UploadNotFound({ detail: 'Nothing was uploaded yet.' })
    if (head.sizeBytes > limits.maxFileBytes) {
      await this.discard(ticket)
      throw new FilesErrors.FileTooLarge()
    }
    return {
      type: 'file' as const,
      filename: ticket.n,
      mimetype: 'application/octet-stream',
      file: await this.deps.storage.get(key),
    }
  }

  /** Removes the pending object (after it was recorded, or refused). */
  async discard(ticket: Ticket): Promise<void> {
    await this.deps.storage.delete(pendingKey(ticket)).catch(() => undefined)
  }

  /** Refusals (a limit, a type) remove the pending object; a storage or database failure keeps it. */
  async settle(ticket: Ticket, error: unknown): Promise<never> {
    if (isAcmeError(error) && error.statusCode < 500) await this.discard(ticket)
    throw error
  }
}

const pendingKey = (ticket: Ticket) => `pending/${ticket.t}/${ticket.p}`
