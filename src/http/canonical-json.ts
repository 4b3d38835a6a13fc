/** A piece of the output still to write: text as it is, or a value still to render. */
type Pending = { text: string } | { value: unknown }

/**
 * JSON with object keys in order, so the same body sent with its keys reordered renders the same.
 * Iterative, not recursive: a body nested a few thousand levels deep (well within the body limit,
 * and parsed by JSON.parse without trouble) would otherwise overflow the stack. A value JSON has no
 * text for (undefined) renders as null.
 */
export function canonicalJson(root: unknown): string {
  const out: string[] = []
  const pending: Pending[] = [{ value: root }]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if ('text' in next) {
      out.push(next.text)
      continue
    }
    const { value } = next
    if (typeof value !== 'object' || value === null) {
      out.push(JSON.stringify(value) ?? 'null')
      continue
    }
    const parts: Pending[] = []
    if (Array.isArray(value)) {
      parts.push({ text: '[' })
      for (const [index, item] of (value as unknown[]).entries()) {
        if (index > 0) parts.push({ text: ',' })
        parts.push({ value: item })
      }
      parts.push({ text: ']' })
    } else {
      parts.push({ text: '{' })
      for (const [index, key] of Object.keys(value).sort().entries()) {
        parts.push({ text: `${index > 0 ? ',' : ''}${JSON.stringify(key)}:` }, { value: (value as Record<string, unknown>)[key] })
      }
      parts.push({ text: '}' })
    }
    // Last pushed, first written: the parts go on in reverse.
    for (let index = parts.length - 1; index >= 0; index--) pending.push(parts[index] as Pending)
  }
  return out.join('')
}
