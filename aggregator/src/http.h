/* The HTTP server moved to net/ (slt/http.h); this name stays for the aggregator's files. */
#include "slt/http.h"
