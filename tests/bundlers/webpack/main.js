// The webpack build of the shared app (one source, so both bundlers build the same code).
import "../app.js";
