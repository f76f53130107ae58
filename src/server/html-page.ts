import { createHash } from 'node:crypto';
import type { Response } from 'express';

/** The one style block of the public HTML pages (certificate verification, email links). */
const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}
h1{font-size:1.5rem}.status{padding:.75rem 1rem;border-radius:.4rem;font-weight:600}
.valid{background:#e6f4ea;color:#0b5a25}.revoked{background:#fde8e8;color:#8a1010}
.replaced,.pending{background:#fff6db;color:#6b4d00}dt{font-weight:600;margin-top:.6rem}dd{margin:0}
code{font:13px/1.4 ui-monospace,monospace;word-break:break-all}
label{display:block;margin-top:.8rem;font-weight:600}input{font:inherit;padding:.4rem;width:100%;max-width:24rem;box-sizing:border-box}
button{font:inherit;margin-top:1rem;padding:.5rem 1.2rem}`;

export const STYLE_HASH = createHash('sha256').update(STYLE, 'utf8').digest('base64');

/**
 * A policy that allows the page's style block and nothing else: no script at all, no
 * third-party anything. `formAction` is 'self' for the pages whose form posts back here.
 */
export function strictCsp(formAction: "'none'" | "'self'"): string {
  return [
    "default-src 'none'",
    `style-src 'sha256-${STYLE_HASH}'`,
    "img-src 'self' data:",
    "base-uri 'none'",
    `form-action ${formAction}`,
    "frame-ancestors 'none'",
  ].join('; ');
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(value: string | null | undefined): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export function htmlPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/** Sends a page under its own CSP (set after helmet's, which it replaces), never cached. */
export function sendHtml(res: Response, status: number, html: string, csp: string): void {
  res.setHeader('Content-Security-Policy', csp);
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-store');
  res.status(status).type('text/html; charset=utf-8').send(html);
}
