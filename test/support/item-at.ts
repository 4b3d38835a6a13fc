/** The item at `index`, or a thrown error naming what is missing: for tests, instead of a non-null assertion. */
export function itemAt<T>(items: readonly T[], index: number, what = 'item'): T {
  const item = items[index]
  if (item === undefined) throw new Error(`no ${what} at index ${index} (of ${items.length})`)
  return item
}
