import { defineError } from '@acme/core'

/** @acme/files' catalogue. Codes are public API: see the package README. */
export const FilesErrors = {
  FileNotFound: defineError(
    'ACME_FILES_NOT_FOUND',
    404,
    'Not Found',
    'No file with this id in this tenant.',
  ),
  FileTooLarge: defineError(
    'ACME_FILES_FILE_TOO_LARGE',
    413,
    'File Too Large',
    'A file is larger than this route accepts.',
  ),
  TooManyFiles: defineError(
    'ACME_FILES_TOO_MANY_FILES',
    413,
    'Too Many Files',
    'The request carries more files than this route accepts.',
  ),
  TooManyFields: defineError(
    'ACME_FILES_TOO_MANY_FIELDS',
    413,
    'Too Many Fields',
    'The request carries more form fields, or longer ones, than this route accepts.',
  ),
  QuotaExceeded: defineError(
    'ACME_FILES_QUOTA_EXCEEDED',
    413,
    'Storage Quota Exceeded',
    "The upload would take the tenant's storage past its plan's quota.",
  ),
  UnsupportedType: defineError(
    'ACME_FILES_UNSUPPORTED_TYPE',
    415,
    'Unsupported File Type',
    'The content of a file is not of a type this route accepts, or not of the type it claims.',
  ),
  ArchiveRefused: defineError(
    'ACME_FILES_ARCHIVE_REFUSED',
    415,
    'Archive Refused',
    'An archive names an entry outside the folder it would be extracted into, or cannot be read.',
  ),
  ArchiveTooLarge: defineError(
    'ACME_FILES_ARCHIVE_TOO_LARGE',
    413,
    'Archive Too Large',
    'An archive holds more entries, or expands to more bytes, than this route accepts.',
  ),
  NoFile: defineError(
    'ACME_FILES_NO_FILE',
    400,
    'No File',
    'The multipart request carries no file part.',
  ),
  NotMultipart: defineError(
    'ACME_FILES_NOT_MULTIPART',
    415,
    'Unsupported Media Type',
    'Uploads are sent as multipart/form-data.',
  ),
  MalformedUpload: defineError(
    'ACME_FILES_MALFORMED_UPLOAD',
    400,
    'Malformed Upload',
    'The multipart body could not be read.',
  ),
  SignatureInvalid: defineError(
    'ACME_FILES_LINK_INVALID',
    404,
    'Not Found',
    'No file behind this link.',
  ),
  LinkExpired: defineError(
    'ACME_FILES_LINK_EXPIRED',
    403,
    'Link Expired',
    'This download link has expired; ask for a new one.',
  ),
  Quarantined: defineError(
    'ACME_FILES_QUARANTINED',
    409,
    'File Not Available',
    'The file has not passed scanning; it cannot be downloaded.',
  ),
  DirectUploadUnavailable: defineError(
    'ACME_FILES_DIRECT_UPLOAD_UNAVAILABLE',
    409,
    'Direct Upload Unavailable',
    'The storage in use does not accept direct uploads; send the file through the upload route.',
  ),
  UploadNotFound: defineError(
    'ACME_FILES_UPLOAD_NOT_FOUND',
    404,
    'Not Found',
    'No pending direct upload with this id in this tenant, or it has expired.',
  ),
  TenantRequired: defineError(
    'ACME_FILES_TENANT_REQUIRED',
    400,
    'Tenant Required',
    'Name the tenant whose files you want.',
  ),
  StorageUnavailable: defineError(
    'ACME_FILES_STORAGE_UNAVAILABLE',
    503,
    'Storage Unavailable',
    'File storage did not answer; try again shortly.',
  ),
} as const
