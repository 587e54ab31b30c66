import Foundation
import FuzzSupport
import PianoKit

/// Largest member data written for a manifest that passes validation; a manifest claiming more
/// gets a short member, which the reader must refuse.
let dataCap = 1 << 16

/// Decodes the input as an archive's manifest.json and validates it. One that passes is packed
/// into a zip beside members of the dtypes and shapes it claims and read as an archive, so that
/// manifests lying about counts, sizes and shapes reach the reader's checks against the members
/// (in a fuzzed archive the manifest is deflated and CRC-checked, so mutations rarely get there).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let json = Data(bytes: start, count: count)
    guard let manifest = try? JSONDecoder().decode(ArchiveManifest.self, from: json),
          (try? manifest.validate()) != nil
    else { return 0 }
    let path = ScratchFile.path(suffix: ".npz")
    do {
        let writer = try ZipWriter(path: path, level: 1)
        try writer.addMember(ArchiveManifest.memberName, data: json)
        for member in manifest.members {
            // validate() has checked every dtype and that every shape's size does not overflow.
            guard let dtype = NPY.DType(rawValue: member.dtype), let itemSize = NPY.itemSize(member.dtype),
                  let bytes = member.byteCount(itemSize: itemSize)
            else { continue }
            var data = NPY.header(dtype: dtype, shape: member.shape)
            data.append(Data(count: min(bytes, dataCap)))
            try writer.addMember(member.name, data: data)
        }
        try writer.finish()
    } catch {
        return 0
    }
    ArchiveWalk.read(path: path)
    return 0
}
