import Foundation
import FuzzSupport
import PianoKit

/// Decodes the input as safetensors and, when that succeeds, reads it as a model file as infer
/// and train --resume do, so that metadata and shapes that lie about the network are exercised.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    guard (try? SafeTensors.decode(Data(bytes: start, count: count))) != nil else { return 0 }
    let path = ScratchFile.holding(start, count, suffix: ".safetensors")
    _ = try? ModelFile.read(path: path)
    return 0
}
