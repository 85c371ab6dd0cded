import yauzl from 'yauzl'
import { FilesErrors } from '../errors.js'
import type { ArchiveLimits } from '../options.js'
import { type ReadRange, StoredArchiveReader } from './reader.js'

/**
 * Types that are zip archives underneath (the sniffed type of a file): their entries are
 * checked before the file is recorded, when a route allows them.
 */
export const ZIP_ARCHIVE_TYPES: ReadonlySet<string> = new Set([
  'application/zip',
  'application/java-archive',
  'application/epub+zip',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  'application/vnd.oasis.opendocument.text',
  'application/vnd.oasis.opendocument.spreadsheet',
  'application/vnd.oasis.opendocument.presentation',
])

/** Why an entry's name is refused, or null when it is a plain relative path. */
export function hostileEntryName(
  name: string,
): 'nul-in-name' | 'absolute-path' | 'parent-path' | null {
  if (name.includes('\0')) return 'nul-in-name'
  // `/x`, `\x`, `C:x` and `\\server\x` all leave the folder an archive is extracted into.
  if (/^[/\\]/.test(name) || /^[a-z]:/i.test(name)) return 'absolute-path'
  if (name.split(/[/\\]/).includes('..')) return 'parent-path'
  return null
}

const UNICODE_PATH_FIELD = 0x7075
const UTF8_FLAG = 0x800

/**
 * Every name an extractor might use for an entry: the header's (UTF-8, or CP437 whose ASCII
 * range is the same, and only ASCII matters to the checks) and the Info-ZIP Unicode path extra
 * field's, which many extractors prefer: a benign name beside a hostile one is still hostile.
 */
function namesOf(entry: yauzl.Entry): string[] {
  const raw = entry.fileNameRaw
  const names = [raw.toString((entry.generalPurposeBitFlag & UTF8_FLAG) !== 0 ? 'utf8' : 'latin1')]
  for (const field of entry.extraFields) {
    if (field.id === UNICODE_PATH_FIELD && field.data.length > 5) {
      names.push(field.data.subarray(5).toString('utf8'))
    }
  }
  return names
}

/**
 * Reads a stored zip archive's central directory (never its contents) and refuses it when an
 * extractor could be led outside its folder or past a size: an entry named with `..`, an
 * absolute path or a NUL (415); more entries than `maxEntries`, or declared uncompressed sizes
 * adding up past `maxUncompressedBytes` (413). An archive that cannot be read is refused (415).
 * A storage failure is rethrown as it is.
 */
export async function inspectZip(
  readRange: ReadRange,
  sizeBytes: number,
  limits: ArchiveLimits,
  name: string,
): Promise<void> {
  const refuse = (reason: string, detail: string) =>
    new FilesErrors.ArchiveRefused({ detail: `"${name}": ${detail}.`, extensions: { reason } })
  let storageFailed: unknown
  const reader = new StoredArchiveReader(async (start, end) => {
    try {
      return await readRange(start, end)
    } catch (error) {
      storageFailed ??= error
      throw error
    }
  }, sizeBytes)
  let zip: yauzl.ZipFile
  try {
    zip = await yauzl.fromRandomAccessReaderPromise(reader, sizeBytes, {
      // Names are checked here, on the raw bytes and every alternative name.
      decodeStrings: false,
      validateEntrySizes: true,
    })
  } catch {
    if (storageFailed) throw storageFailed
    throw refuse('unreadable', 'the archive cannot be read')
  }
  try {
    if (zip.entryCount > limits.maxEntries) {
      throw new FilesErrors.ArchiveTooLarge({
        detail: `"${name}" holds ${zip.entryCount} entries; at most ${limits.maxEntries} are accepted.`,
        extensions: { reason: 'entries' },
      })
    }
    let declared = 0
    for await (const entry of zip.eachEntry()) {
      for (const entryName of namesOf(entry)) {
        const hostile = hostileEntryName(entryName)
        if (hostile) throw refuse(hostile, 'an entry is named with a path outside the archive')
      }
      declared += entry.uncompressedSize
      if (declared > limits.maxUncompressedBytes) {
        throw new FilesErrors.ArchiveTooLarge({
          detail: `"${name}" expands past ${limits.maxUncompressedBytes} bytes.`,
          extensions: { reason: 'uncompressed-size' },
        })
      }
    }
  } catch (error) {
    if (
      error instanceof FilesErrors.ArchiveRefused ||
      error instanceof FilesErrors.ArchiveTooLarge
    ) {
      throw error
    }
    if (storageFailed) throw storageFailed
    throw refuse('unreadable', 'the archive cannot be read')
  } finally {
    zip.close()
  }
}
