// Deliberately empty: the module a baseline page imports in place of a library.
