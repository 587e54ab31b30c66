// A decoder for the one kind of JPEG the toolkit writes and reads most: baseline (SOF0), 8-bit,
// one component, Huffman-coded, no restart intervals. It gives the same pixels as libjpeg-turbo's
// default decoding (the "islow" integer inverse DCT), without libjpeg's per-image set-up: for a
// 32x32 thumbnail about 3.5 us against TurboJPEG's 8 here. Anything else, anything libjpeg would
// warn about (a premature end, extraneous bytes, a bad Huffman code, an odd marker), and values
// where libjpeg-turbo's C and SIMD inverse DCTs could differ, it declines, and the caller decodes
// with TurboJPEG, so that the result is always libjpeg-turbo's.
#ifndef PIANO_BASELINE_JPEG_H
#define PIANO_BASELINE_JPEG_H

#include <stddef.h>
#include <stdint.h>

/// Decoder state: the derived Huffman tables (kept while the next image's tables are the same
/// bytes) and a scratch buffer. One per thread.
typedef struct pk_jpeg_decoder pk_jpeg_decoder;

/// A new decoder, or NULL when out of memory.
pk_jpeg_decoder *pk_jpeg_decoder_new(void);
void pk_jpeg_decoder_free(pk_jpeg_decoder *decoder);

enum {
    PK_JPEG_DECODED = 0,    // pixels written
    PK_JPEG_DECLINED = 1,   // not handled here: decode with libjpeg-turbo instead
    PK_JPEG_OTHER_SIZE = 2, // the header declares another width x height than asked for; *width and *height say which
};

/// Decodes data[0 ..< size] into `pixels` (width x height bytes, row-major) when its frame header
/// declares exactly `width` x `height`. Returns one of the codes above; on PK_JPEG_OTHER_SIZE,
/// `*declared_width` and `*declared_height` are the header's sizes and `pixels` is untouched.
/// On PK_JPEG_DECLINED the pixels may have been partly written.
int pk_jpeg_decode_gray(pk_jpeg_decoder *decoder, const uint8_t *data, size_t size, uint8_t *pixels,
                        int width, int height, int *declared_width, int *declared_height);

#endif
