/**
 * Whole numbers typed by a person (configuration values, command options): decimal digits only, so "1e3",
 * "0x10", "1.0", " 5" and "" are refused rather than read as something the user did not write.
 */

export type WholeNumberResult = { ok: true; value: number } | { ok: false; problem: string };

/** `text` as an integer within [min, max], or why it is not one (the caller names the variable or option). */
export function parseWholeNumber(text: string, min: number, max: number): WholeNumberResult {
  if (!/^\d+$/.test(text)) return { ok: false, problem: `"${text}" is not a whole number` };
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    return { ok: false, problem: `${text} is out of range: use ${min} to ${max}` };
  }
  return { ok: true, value };
}
