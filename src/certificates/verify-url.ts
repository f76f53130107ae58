/**
 * The path of a certificate's public verification page. The check symbols `* ~ $ = U` are
 * legal in a path, but linkifiers in mail clients and chat apps drop a trailing `*` or `~`
 * (markup for bold and strike-through), so everything beyond letters, digits and `-` is
 * percent-encoded; the server decodes it back.
 */
export function verifyPath(certificateNumber: string): string {
  return `/verify/${certificateNumber.replace(/[^A-Za-z0-9-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}`;
}
