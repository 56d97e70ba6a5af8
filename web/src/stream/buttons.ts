/**
 * MouseEvent.button → X button number: left, middle, right, then back/forward, which X
 * numbers 8 and 9 (4–7 are the wheel). Null for buttons X has no number for here.
 */
export function xButton(browserButton: number): number | null {
  switch (browserButton) {
    case 0:
      return 1;
    case 1:
      return 2;
    case 2:
      return 3;
    case 3:
      return 8;
    case 4:
      return 9;
    default:
      return null;
  }
}
