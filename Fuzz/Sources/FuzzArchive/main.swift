import FuzzSupport

/// Opens the input as a packed archive, streams every split's examples and verifies it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    ArchiveWalk.read(path: ScratchFile.holding(start, count, suffix: ".npz"))
    return 0
}
