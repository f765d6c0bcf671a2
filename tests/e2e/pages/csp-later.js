// A module the CSP pages' app imports after the package: it must evaluate.
export const later = true;
