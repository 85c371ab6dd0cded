import { z } from 'zod'
import { DEFAULT_ALLOWED_TYPES } from './sniff/types.js'
import type { StorageDriver } from './storage/driver.js'
import type { ScanHook } from './types.js'

const MiB = 1024 * 1024

const base64Key = z.string().refine((value) => Buffer.from(value, 'base64').length === 32, {
  message: 'must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)',
})

const mimeType = z
  .string()
  .regex(/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/, 'must be a MIME type')

/** What a zip archive (and a format that is one underneath) may hold, read from its directory. */
export const archiveLimitsSchema = z
  .object({
    /** Entries in its central directory (default 1,000). More: 413. */
    maxEntries: z.number().int().min(1).max(1_000_000).default(1_000),
    /** Sum of the entries' declared uncompressed sizes (default 1 GiB). More: 413. */
    maxUncompressedBytes: z
      .number()
      .int()
      .min(1)
      .max(Number.MAX_SAFE_INTEGER)
      .default(1024 * MiB),
  })
  .strict()

export type ArchiveLimits = z.output<typeof archiveLimitsSchema>

/** Limits of one upload route; every field has the plugin's default. */
export const uploadLimitsSchema = z
  .object({
    /** Largest file, in bytes (default 10 MiB). Over it: 413 and nothing stored. */
    maxFileBytes: z
      .number()
      .int()
      .min(1)
      .max(5 * 1024 * MiB)
      .default(10 * MiB),
    /** Files in one request (default 20). More: 413 and nothing stored. */
    maxFiles: z.number().int().min(1).max(1_000).default(20),
    /** Non-file form fields in one request (default 20); they are read and ignored. */
    maxFields: z.number().int().min(0).max(1_000).default(20),
    /** Longest field name or value, in bytes (default 8 KiB). */
    maxFieldBytes: z
      .number()
      .int()
      .min(1)
      .max(1 * MiB)
      .default(8 * 1024),
    /**
     * Content types the route stores, as sniffed from the bytes. `text/html`, `image/svg+xml`,
     * XML and executables are refused whatever this says.
     */
    allowedTypes: z
      .array(mimeType)
      .min(1)
      .max(100)
      .default(() => [...DEFAULT_ALLOWED_TYPES]),
    /**
     * SVG: `refuse` (default), or `sanitise`: with `image/svg+xml` in `allowedTypes`, an SVG
     * document (at most 1 MiB, read whole) is stored as DOMPurify's SVG profile leaves it.
     * Needs the peer dependencies `dompurify` and `jsdom`.
     */
    svg: z.enum(['refuse', 'sanitise']).default('refuse'),
    /**
     * Checks of zip archives (`application/zip`, and OOXML, ODF, EPUB and JAR, which are zips),
     * applied only when `allowedTypes` admits them.
     */
    archive: archiveLimitsSchema.prefault({}),
  })
  .strict()

export type UploadLimits = z.output<typeof uploadLimitsSchema>
export type SvgPolicy = UploadLimits['svg']
export type UploadLimitsInput = z.input<typeof uploadLimitsSchema>

const isDriver = (value: unknown): value is StorageDriver =>
  typeof value === 'object' &&
  value !== null &&
  ['put', 'get', 'head', 'delete', 'readHead'].every(
    (method) => typeof (value as Record<string, unknown>)[method] === 'function',
  )

export const filesOptionsSchema = z
  .object({
    /** Route prefix of the file routes. */
    prefix: z
      .string()
      .regex(/^(\/[a-z0-9-]+)*$/)
      .default(''),
    /** Where the bytes go: a driver (`new S3Driver(...)` from `@acme/files/s3`, or your own). */
    storage: z
      .custom<StorageDriver>(
        isDriver,
        'must be a storage driver (put, get, head, delete, readHead)',
      )
      .optional(),
    /** The local-disk driver's folder, when `storage` is not given (e.g. under the data folder). */
    localDirectory: z.string().min(1).optional(),
    /** The plugin's own upload route's limits, and the defaults of `app.files.receive`. */
    upload: uploadLimitsSchema.prefault({}),
    /**
     * 32 bytes in base64: signs download links and direct-upload tickets (HMAC-SHA256). Required:
     * a key made per process would not verify on another instance or after a restart.
     */
    signingKey: base64Key,
    /** Lifetime of a signed download link, in seconds (default 5 minutes). */
    signedUrlTtlSeconds: z.number().int().min(10).max(86_400).default(300),
    /** Lifetime of a presigned direct upload, in seconds (default 10 minutes). */
    directUploadTtlSeconds: z.number().int().min(10).max(86_400).default(600),
    /**
     * Scanning hook (an antivirus): files stay `quarantined`, not downloadable, until it answers
     * `clean`; `infected` deletes them. Runs as the `files.scan` job after the upload commits.
     */
    scan: z
      .custom<ScanHook>((value) => typeof value === 'function', 'must be a function')
      .optional(),
    /**
     * The `files.sweep` job, scheduled at startup: removes stored objects that no file records
     * once they are `graceSeconds` old (what a crash between an upload's last write and its
     * transaction leaves), and the local driver's temporary files.
     */
    sweep: z
      .object({
        enabled: z.boolean().default(true),
        /** Runs every this many seconds (default an hour), one run per tick across instances. */
        everySeconds: z
          .number()
          .int()
          .min(60)
          .max(31 * 86_400)
          .default(3_600),
        /**
         * Age before an object without a row is removed (default a day): longer than any upload
         * request can take, since a request's first files are stored before its last arrive.
         */
        graceSeconds: z
          .number()
          .int()
          .min(600)
          .max(365 * 86_400)
          .default(86_400),
      })
      .strict()
      .prefault({}),
    /** Injectable time source (tests): link expiry, and the sweeper's "older than". */
    clock: z
      .custom<() => Date>(
        (value) => typeof value === 'function',
        'must be a function returning a Date',
      )
      .optional(),
  })
  .strict()
  .superRefine((options, ctx) => {
    if (!options.storage && !options.localDirectory) {
      ctx.addIssue({
        code: 'custom',
        path: ['storage'],
        message: 'give a storage driver, or `localDirectory` for files on local disk',
      })
    }
    if (options.storage && options.localDirectory) {
      ctx.addIssue({
        code: 'custom',
        path: ['localDirectory'],
        message: 'is for the local-disk driver; it cannot be combined with `storage`',
      })
    }
  })

export type FilesOptions = z.input<typeof filesOptionsSchema>
export type ResolvedFilesOptions = z.output<typeof filesOptionsSchema>
