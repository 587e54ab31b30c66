import CCrypto

/// SHA-256 (FIPS 180-4), incremental, for the archive's per-member checksums, through OpenSSL's
/// libcrypto (SHA extensions where the CPU has them: about 7x the portable Swift version this
/// replaced here, `bench-archive hash`).
///
/// A value type: a copy hashes on independently (the context is copied on the first update after
/// a copy).
public struct SHA256: @unchecked Sendable {
    /// Owns one EVP digest context.
    private final class Context {
        let pointer: OpaquePointer
        init(copying other: OpaquePointer? = nil) {
            guard let context = EVP_MD_CTX_new() else { fatalError("libcrypto: out of memory for a digest context") }
            pointer = context
            let ok = other.map { EVP_MD_CTX_copy_ex(context, $0) } ?? EVP_DigestInit_ex(context, EVP_sha256(), nil)
            // Only an allocation failure or a missing SHA-256 (a broken libcrypto) can fail here.
            guard ok == 1 else { fatalError("libcrypto: cannot set up SHA-256") }
        }
        deinit { EVP_MD_CTX_free(pointer) }
    }

    private var context = Context()

    /// A fresh hash.
    public init() {}

    /// Adds bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if !isKnownUniquelyReferenced(&context) { context = Context(copying: context.pointer) }
        guard EVP_DigestUpdate(context.pointer, bytes.baseAddress, bytes.count) == 1 else { fatalError("libcrypto: SHA-256 update failed") }
    }

    /// Adds bytes.
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        Array(bytes).withUnsafeBytes { update($0) }
    }

    /// The digest of the bytes so far as 64 lowercase hex digits (the hash can go on).
    public func hexDigest() -> String {
        let final = Context(copying: context.pointer)
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(final.pointer, &digest, &length) == 1, length == 32 else { fatalError("libcrypto: SHA-256 final failed") }
        let hex = Array("0123456789abcdef".utf8)
        return String(decoding: digest.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] }, as: UTF8.self)
    }
}
