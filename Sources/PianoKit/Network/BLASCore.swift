import COpenBLAS
import Foundation

/// Which OpenBLAS kernels the process runs. OpenBLAS (a DYNAMIC_ARCH build, as Debian's) picks
/// them when the library loads, by CPU model; a release older than the CPU falls back to kernels
/// for an old one: Debian 12's 0.3.21 runs its SSE3 "Prescott" sgemm on Intel family 6 model 207
/// (a 2026 cloud Xeon), where its SkylakeX kernels make training 1.5x and inference 1.8x faster
/// (`bench-train --arch simple`). `OPENBLAS_CORETYPE` overrides the choice, but only when the
/// library loads, so a stage that finds such a fallback runs itself again with it set.
public enum BLASCore {
    /// OpenBLAS cores whose kernels use no AVX2 (lower-cased, as `openblas_get_corename` spells
    /// them in any case): a fallback on a CPU that has AVX2 or AVX-512.
    static let preAVX2: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "sandybridge", "atom", "katmai", "coppermine",
        "northwood", "banias", "opteron", "opteron_sse3", "barcelona", "bobcat", "bulldozer", "piledriver",
        "steamroller", "excavator",
    ]

    /// The `OPENBLAS_CORETYPE` to run with, or nil to keep OpenBLAS's choice: nil where the user set
    /// the variable (their choice stands, and a run started again by `useFastKernels` has it set),
    /// where OpenBLAS chose a core with AVX2 or later, or where the CPU has neither AVX2 nor AVX-512.
    /// - Parameters:
    ///   - core: OpenBLAS's core name (`openblas_get_corename`).
    ///   - vectorLevel: 2 AVX-512 (SkylakeX's subsets), 1 AVX2 with FMA, 0 neither (`pk_blas_vector_level`).
    ///   - coreTypeSet: whether `OPENBLAS_CORETYPE` is in the environment.
    static func override(core: String, vectorLevel: Int, coreTypeSet: Bool) -> String? {
        guard !coreTypeSet, preAVX2.contains(core.lowercased()) else { return nil }
        switch vectorLevel {
        case 2...: return "SkylakeX"
        case 1: return "Haswell"
        default: return nil
        }
    }

    /// Runs the process again (same pid, arguments and environment, through /proc/self/exe) with
    /// `OPENBLAS_CORETYPE` set where `override` says so; returns where it does not, or where the
    /// exec fails (the run then goes on with OpenBLAS's own choice). Call it first thing in `main`,
    /// before any output or threads: for stages whose time goes to OpenBLAS (train, infer).
    public static func useFastKernels() {
        guard let name = openblas_get_corename(),
              let core = override(core: String(cString: name), vectorLevel: Int(pk_blas_vector_level()),
                                  coreTypeSet: getenv("OPENBLAS_CORETYPE") != nil)
        else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
