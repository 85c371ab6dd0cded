import { isAcmeError } from '@acme/core'
import { FilesErrors } from '../errors.js'

/**
 * The multipart parser's errors as this package's problems: every limit a 413 with a stable
 * code, malformed bodies a 400. Anything else (a storage failure) is passed on.
 */
export function fromMultipartError(error: unknown): unknown {
  if (isAcmeError(error)) return error
  const code = (error as { code?: unknown } | null)?.code
  switch (code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new FilesErrors.FileTooLarge({ cause: error })
    case 'FST_FILES_LIMIT':
      return new FilesErrors.TooManyFiles({ cause: error })
    case 'FST_FIELDS_LIMIT':
    case 'FST_PARTS_LIMIT':
      return new FilesErrors.TooManyFields({ cause: error })
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new FilesErrors.NotMultipart({ cause: error })
    case 'FST_PROTO_VIOLATION':
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return new FilesErrors.MalformedUpload({ cause: error })
  }
  const message = error instanceof Error ? error.message : ''
  if (
    /multipart|boundary|terminated early|unexpected end of (form|multipart)|malformed/i.test(
      message,
    )
  ) {
    return new FilesErrors.MalformedUpload({ cause: error })
  }
  return error
}
