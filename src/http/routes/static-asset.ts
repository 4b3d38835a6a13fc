import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import type { Context } from 'hono'

/** A file the service answers from memory: its bytes, their gzip form when worth it, and a validator. */
export interface StaticAsset {
  readonly body: Uint8Array<ArrayBuffer>
  readonly gzipped: Uint8Array<ArrayBuffer> | undefined
  readonly contentType: string
  /** Weak: the gzip and identity forms are the same resource. */
  readonly etag: string
}

/** Text compresses several-fold (Swagger UI's bundle: about 1.5 MB to 0.4 MB); images do not. */
export function staticAsset(body: Uint8Array | string, contentType: string): StaticAsset {
  // Copied once into plain Uint8Arrays: Node's Buffers may share a pooled ArrayBuffer.
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : new Uint8Array(body)
  const compressible = /^(text\/|application\/json)/.test(contentType)
  return {
    body: bytes,
    gzipped: compressible ? new Uint8Array(gzipSync(bytes, { level: 9 })) : undefined,
    contentType,
    etag: `W/"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`,
  }
}

/** Reads a file once, on its first request, and keeps it: idle services pay nothing for the docs. */
export function lazyAsset(load: () => StaticAsset): () => StaticAsset {
  let asset: StaticAsset | undefined
  return () => (asset ??= load())
}

/** True when the Accept-Encoding header lists gzip (or `*`) without `q=0`. */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false
  return header.split(',').some((part) => {
    const [coding = '', ...params] = part
      .trim()
      .toLowerCase()
      .split(';')
      .map((piece) => piece.trim())
    if (coding !== 'gzip' && coding !== '*') return false
    const q = params.find((param) => param.startsWith('q='))
    return q === undefined || Number(q.slice(2)) > 0
  })
}

function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '')
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag))
}

/**
 * The answer for an asset: 304 when the caller's copy is current, else its bytes (gzip when the
 * caller takes it), with the caller's caching policy, the content type and the validator.
 */
export function serveAsset(c: Context, asset: StaticAsset, cacheControl: string, extraHeaders: Record<string, string> = {}): Response {
  c.header('Cache-Control', cacheControl)
  c.header('ETag', asset.etag)
  if (asset.gzipped) c.header('Vary', 'Accept-Encoding')
  for (const [name, value] of Object.entries(extraHeaders)) c.header(name, value)
  if (matchesEtag(c.req.header('if-none-match'), asset.etag)) return c.body(null, 304)
  c.header('Content-Type', asset.contentType)
  if (asset.gzipped && acceptsGzip(c.req.header('accept-encoding'))) {
    c.header('Content-Encoding', 'gzip')
    return c.body(asset.gzipped, 200)
  }
  return c.body(asset.body, 200)
}
