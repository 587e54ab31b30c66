import COpenBLAS
import Foundation
import Testing
@testable import PianoKit

@Suite struct BLASCoreTests {
    /// The kernels a stage asks OpenBLAS for where OpenBLAS fell back to an old CPU's.
    @Test func overridesOnlyAFallbackOnACPUWithWiderVectors() {
        #expect(BLASCore.override(core: "Prescott", vectorLevel: 2, coreTypeSet: false) == "SkylakeX")
        #expect(BLASCore.override(core: "PRESCOTT", vectorLevel: 1, coreTypeSet: false) == "Haswell")
        #expect(BLASCore.override(core: "Sandybridge", vectorLevel: 2, coreTypeSet: false) == "SkylakeX")
        #expect(BLASCore.override(core: "Prescott", vectorLevel: 0, coreTypeSet: false) == nil)  // nothing wider to use
        #expect(BLASCore.override(core: "Prescott", vectorLevel: 2, coreTypeSet: true) == nil)  // the user's choice, or the second run
        for core in ["SkylakeX", "Haswell", "Zen", "Cooperlake", "SapphireRapids"] {
            #expect(BLASCore.override(core: core, vectorLevel: 2, coreTypeSet: false) == nil, "\(core)")
        }
    }

    /// This process's OpenBLAS has a core name, and the vector level agrees with the kernel's
    /// own view of the CPU: the flags line of /proc/cpuinfo.
    @Test func readsTheLibrarysCoreAndTheCPUsLevel() throws {
        let name = try #require(openblas_get_corename())
        #expect(!String(cString: name).isEmpty)
        #if arch(x86_64) && os(Linux)
        let info = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let line = try #require(info.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(line.split(separator: " ").map(String.init))
        let expected = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) ? 2
            : flags.contains("avx2") && flags.contains("fma") ? 1 : 0
        #expect(pk_blas_vector_level() == Int32(expected), "flags: \(flags.sorted().joined(separator: " "))")
        #endif
    }
}
