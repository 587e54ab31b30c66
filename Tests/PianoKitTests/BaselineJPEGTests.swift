import CBaselineJPEG
import CTurboJPEG
import Foundation
import Testing
@testable import PianoKit

/// CBaselineJPEG against libjpeg-turbo (the reference: the pixels TurboJPEG gives), and
/// JPEGDecoder's fallback to TurboJPEG for what CBaselineJPEG declines.
@Suite struct BaselineJPEGTests {
    /// Images of several kinds, sizes (multiples of 8 and not) and qualities, encoded by TurboJPEG.
    static func samples() throws -> [(jpeg: [UInt8], width: Int, height: Int, quality: Int)] {
        var rng = SeededGenerator(seed: 7)
        var result: [(jpeg: [UInt8], width: Int, height: Int, quality: Int)] = []
        for index in 0 ..< 400 {
            let width = index < 100 ? 32 : Int.random(in: 1 ... 70, using: &rng)
            let height = index < 100 ? 32 : Int.random(in: 1 ... 70, using: &rng)
            let quality = [1, 5, 25, 50, 75, 90, 95, 100][index % 8]
            let pixels: [UInt8] = (0 ..< width * height).map { k in
                switch index % 4 {
                case 0: UInt8.random(in: 0 ... 255, using: &rng)  // noise: every coefficient busy
                case 1: UInt8(truncatingIfNeeded: (k % width) * 255 / max(1, width - 1) + Int.random(in: 0 ... 20, using: &rng))
                case 2: (k / width) % 8 < 4 ? 0 : 255  // hard edges: samples clamped at both ends
                default: UInt8(truncatingIfNeeded: k * 7)
                }
            }
            let jpeg = try [UInt8](JPEGEncoder(quality: quality).encode(gray: pixels, width: width, height: height))
            result.append((jpeg, width, height, quality))
        }
        return result
    }

    static func turboDecode(_ jpeg: [UInt8], width: Int, height: Int, flags: Int32 = 0) throws -> [UInt8] {
        let handle = try #require(tjInitDecompress())
        defer { tjDestroy(handle) }
        var pixels = [UInt8](repeating: 0, count: width * height)
        let status = tjDecompress2(handle, jpeg, UInt(jpeg.count), &pixels, Int32(width), 0, Int32(height), Int32(TJPF_GRAY.rawValue), flags)
        #expect(status == 0)
        return pixels
    }

    /// CBaselineJPEG's status for a 32x32 JPEG, from a fresh decoder.
    static func fastStatus(_ jpeg: [UInt8]) throws -> Int32 {
        let baseline = try #require(pk_jpeg_decoder_new())
        defer { pk_jpeg_decoder_free(baseline) }
        var width: Int32 = 0, height: Int32 = 0
        var out = [UInt8](repeating: 0, count: 1024)
        return pk_jpeg_decode_gray(baseline, jpeg, jpeg.count, &out, 32, 32, &width, &height)
    }

    @Test func decodesTurboJPEGsOwnOutputToTheSamePixels() throws {
        let decoder = try #require(pk_jpeg_decoder_new())
        defer { pk_jpeg_decoder_free(decoder) }
        var width: Int32 = 0, height: Int32 = 0
        for (n, sample) in try Self.samples().enumerated() {
            var pixels = [UInt8](repeating: 1, count: sample.width * sample.height)
            let status = pk_jpeg_decode_gray(decoder, sample.jpeg, sample.jpeg.count, &pixels, Int32(sample.width), Int32(sample.height), &width, &height)
            // Taken by the fast path (else this test would only compare TurboJPEG with itself).
            #expect(status == Int32(PK_JPEG_DECODED), "sample \(n): \(sample.width)x\(sample.height) quality \(sample.quality)")
            #expect(pixels == (try Self.turboDecode(sample.jpeg, width: sample.width, height: sample.height)),
                    "sample \(n): \(sample.width)x\(sample.height) quality \(sample.quality)")
        }
    }

    @Test func reportsAnotherSizeWithoutWriting() throws {
        let sample = try Self.samples()[0]
        var pixels = [UInt8](repeating: 9, count: 16 * 16)
        let declared = try pixels.withUnsafeMutableBufferPointer { out in
            try sample.jpeg.withUnsafeBytes { try JPEGDecoder().decodeGray($0, into: out.baseAddress!, ifSize: (16, 16)) }
        }
        #expect(declared == (32, 32))
        #expect(pixels.allSatisfy { $0 == 9 })
    }

    /// A progressive JPEG and damaged data are declined and left to TurboJPEG, which decodes them
    /// as it did before the fast path.
    @Test func declinesWhatItDoesNotHandle() throws {
        let sample = try Self.samples()[1]
        let pixels = try Self.turboDecode(sample.jpeg, width: 32, height: 32)
        let handle = try #require(tjInitCompress())
        defer { tjDestroy(handle) }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        #expect(tjCompress2(handle, pixels, 32, 0, 32, Int32(TJPF_GRAY.rawValue), &buffer, &size, Int32(TJSAMP_GRAY.rawValue), 80, TJFLAG_PROGRESSIVE) == 0)
        let progressive = [UInt8](UnsafeBufferPointer(start: buffer, count: Int(size)))
        tjFree(buffer)

        #expect(try Self.fastStatus(progressive) == Int32(PK_JPEG_DECLINED))
        #expect(try JPEGDecoder().decodeGray(Data(progressive)).pixels == (try Self.turboDecode(progressive, width: 32, height: 32)))

        // Declined, then whatever TurboJPEG makes of it: an error where libjpeg warns (a premature
        // end), its pixels where it does not (bytes between the scan and EOI, which it skips).
        let eoi = sample.jpeg.count - 2
        let damaged: [(String, [UInt8], fails: Bool)] = [
            ("truncated", Array(sample.jpeg[..<(eoi - 20)]) + [0xFF, 0xD9], true),
            ("no EOI", Array(sample.jpeg[..<eoi]), true),
            ("extra bytes before EOI", Array(sample.jpeg[..<eoi]) + [0x12, 0x34, 0xFF, 0xD9], false),
        ]
        for (what, jpeg, fails) in damaged {
            #expect(try Self.fastStatus(jpeg) == Int32(PK_JPEG_DECLINED), "\(what)")
            if fails {
                #expect(throws: FormatError.self, "\(what)") { try JPEGDecoder().decodeGray(Data(jpeg)) }
            } else {
                #expect(try JPEGDecoder().decodeGray(Data(jpeg)).pixels == pixels, "\(what)")
            }
        }
    }

    /// FuzzJPEG: a thumbnail with quantizers of up to 249 (mutated) whose inverse DCT leaves the
    /// -512...511 range, where libjpeg-turbo's SIMD code saturates and its C code wraps: the fast
    /// path gave 255 where TurboJPEG here gives 0. It must decline, and the decoder give TurboJPEG's pixels.
    @Test func declinesSamplesOutsideTheRangeBothLibjpegPathsAgreeOn() throws {
        let base64 = [
            "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoH+fn38woMDAsKCwsNDhIQDQ4RDgsLEBYQ",
            "ERMUFRUVDA8XGBYUGBIUFRT/wAALCAAgACABAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgED",
            "AwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RF",
            "RkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJ",
            "ytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/APypr0H4CafLqAMCAgMDAwMEAwMEBQgFBQQEBQoHBwYI",
            "DAoMDAsKCwsNDhIQDQ4RDgsLEBYQNk+R1Jm5H4bMCvzb0+xutQnEVpYPdynokaMxPBPQfQ/lX2F+zB4Dn8HiS+1Lwrbz3k2M",
            "/aQCEx5o+X96DyGGePSvo/U7iW9BC+H7KMN2KuR29JR6Vx0+mXdozKuj6KsfYNDJn9JqxfAHwB0nwgmbXT5VkPWR7ebcfvdS",
            "D/tGvZNGsGsIwoi2gf3rKZ/X1atsXCFcMqf+Cpz/AFrK1C2tLkHf/wCmcn+deRR/tf8AiNel1qP4XZ/wqZf2xfEw6XepfheN",
            "/hS/8NkeKP8An71T/wADW/wpp/bG8Un/AJe9W/8AA56//9k=",
        ].joined()
        let jpeg = try [UInt8](#require(Data(base64Encoded: base64)))
        #expect(try Self.fastStatus(jpeg) == Int32(PK_JPEG_DECLINED))
        #expect(try JPEGDecoder().decodeGray(Data(jpeg)).pixels == (try Self.turboDecode(jpeg, width: 32, height: 32)))
    }
}
