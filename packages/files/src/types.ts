import type { Readable } from 'node:stream'
import type {} from '@acme/auth'
import type {} from '@acme/tenancy'
import type { FastifyRequest } from 'fastify'
import type { UploadLimitsInput } from './options.js'
import type { SweepReport } from './services/sweep.js'
import type { StorageDriver } from './storage/driver.js'

/** `quarantined` until the scanning hook passes the file (or none is configured). */
export type FileStatus = 'quarantined' | 'available'

/** A file as the API shows it: never its storage key. */
export interface FileView {
  id: string
  ownerId: string
  /** The client's name, sanitised; metadata only. */
  name: string
  sizeBytes: number
  /** Sniffed from the content, never the client's header. */
  contentType: string
  sha256: string
  status: FileStatus
  createdAt: Date
}

/** What the scanning hook is given: the file's facts and a way to read its bytes. */
export interface ScanInput {
  tenantId: string
  fileId: string
  contentType: string
  sizeBytes: number
  sha256: string
  open(): Promise<Readable>
}

export type ScanVerdict = { verdict: 'clean' } | { verdict: 'infected'; reason: string }

/** An antivirus or other check between "uploaded" and "available". */
export type ScanHook = (input: ScanInput) => Promise<ScanVerdict>

/** `app.files`. */
export interface FilesServices {
  readonly storage: StorageDriver
  /**
   * Reads the multipart files of `request` with `limits` (the plugin's `upload` defaults for
   * what is not given), stores them all or none, and answers their rows. For routes of the
   * host's own; their scope must have registered `filesMultipart`. Throws the 413/415/400
   * problems of the upload route.
   */
  receive(request: FastifyRequest, limits?: UploadLimitsInput): Promise<FileView[]>
  /** A signed download link for one file of the tenant, valid `signedUrlTtlSeconds`. */
  signedUrl(tenantId: string, fileId: string): { path: string; expiresAt: Date }
  /** Runs queued scans now (tests and operations). */
  scanPending(tenantId: string): Promise<number>
  /**
   * Runs the `files.sweep` job's work now: removes stored objects older than the grace period
   * that no file records, and the local driver's temporary files. Answers what it removed.
   */
  sweep(): Promise<SweepReport>
}

declare module '@acme/core' {
  interface AcmeJobs {
    /** Scans one quarantined file with the scanning hook. */
    'files.scan': { tenantId: string; fileId: string }
    /** Removes stored objects no file records (scheduled). */
    'files.sweep': Record<string, never>
  }
  interface AcmeEvents {
    /** Files were stored (the upload committed). */
    'file.uploaded': { tenantId: string; fileId: string; ownerId: string; sizeBytes: number }
    /** A file was deleted, by a user or because scanning refused it. */
    'file.deleted': { tenantId: string; fileId: string; reason: 'deleted' | 'infected' }
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    readonly files: FilesServices
  }
}
