/**
 * System errors in words, for messages that name the file: `no space left on the device (ENOSPC)` reads
 * better than a bare code, and a read error of an input deserves the same file-and-reason message as any
 * other input error.
 */

const WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'the file is too large (for the file system, or the file size limit)',
  EIO: 'input/output error on the device',
  EPIPE: 'the reader closed the pipe',
  ENXIO: 'no reader or device behind this name',
  EMFILE: 'too many open files',
  ELOOP: 'too many symbolic links',
  ERR_FS_FILE_TOO_LARGE: 'the file is too large to read at once (over 2 GiB)',
  ERR_STRING_TOO_LONG: 'the file is too large to read as text',
};

/** A Node system error's code, when it is one. */
export function systemErrorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('E') || code.startsWith('ERR_FS')) ? code : undefined;
}

/** The reason of a file-system error in words, with its code: `permission denied (EACCES)`. */
export function fileErrorReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return err instanceof Error ? err.message : String(err);
  return `${WORDS[code] ?? 'system error'} (${code})`;
}
