#include <zlib.h>

/* deflateInit2 and inflateInit2 are macros in zlib.h, which Swift cannot call:
   these inline functions give Swift real symbols with the same meaning. */
static inline int czlib_deflate_init2(z_streamp strm, int level, int method, int windowBits,
                                      int memLevel, int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}

static inline int czlib_inflate_init2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
