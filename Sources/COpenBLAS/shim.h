#include <cblas.h>
/* mallopt: the network layers keep their large per-batch buffers in the heap (see setBLASThreads). */
#include <malloc.h>
