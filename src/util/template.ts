/**
 * The one template grammar of attacks and judges: `{{ name }}` slots, spaces inside the braces optional.
 * Filling is one pass, so text inside a value (a goal that contains `{{score}}`) is never expanded again,
 * and `$&` and friends in a value stay as written. Slots without a value are left as they are.
 */
const SLOT = /\{\{\s*([A-Za-z_]\w*)\s*\}\}/g;

export function fillTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(
    SLOT,
    (whole, name: string) => (Object.hasOwn(values, name) ? values[name] : whole) as string,
  );
}

/** The slot names a template uses. */
export function slotsOf(template: string): Set<string> {
  return new Set([...template.matchAll(SLOT)].map((m) => m[1] as string));
}
