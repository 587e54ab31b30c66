import COpenBLAS
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

    /// This process's OpenBLAS (the test runner does not start itself again): its core name is
    /// one `override` reads, and the CPU's vector level one it knows.
    @Test func readsTheLibrarysCoreAndTheCPUsLevel() throws {
        let name = try #require(openblas_get_corename())
        #expect(!String(cString: name).isEmpty)
        #expect((0 ... 2).contains(pk_blas_vector_level()))
    }
}
