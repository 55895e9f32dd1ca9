// Relative times ("3 h ago") for every <time datetime>: filled in by the queue-list work.
"use strict";
