// swift-tools-version:6.0
import PackageDescription

/// A system-library target for a C library found through pkg-config.
func cLibrary(_ name: String, pkgConfig: String, apt: String) -> Target {
    .systemLibrary(name: name, path: "Sources/\(name)", pkgConfig: pkgConfig, providers: [.apt([apt])])
}

let stages: [(target: String, executable: String)] = [
    ("Ingest", "ingest"), ("Spectro", "spectro"), ("Pack", "pack"),
    ("Train", "train"), ("TrainStage", "train-stage"), ("Infer", "infer"), ("Corpus", "corpus"),
    ("BenchCQT", "bench-cqt"), ("BenchArchive", "bench-archive"), ("BenchTrain", "bench-train"),
]

let package = Package(
    name: "piano-thumbs",
    platforms: [.macOS(.v13)],
    products: [.library(name: "PianoKit", targets: ["PianoKit"])]
        + stages.map { .executable(name: $0.executable, targets: [$0.target]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        cLibrary("CSndfile", pkgConfig: "sndfile", apt: "libsndfile1-dev"),
        cLibrary("CSoxr", pkgConfig: "soxr", apt: "libsoxr-dev"),
        cLibrary("CFFTW3", pkgConfig: "fftw3f", apt: "libfftw3-dev"),
        cLibrary("CTurboJPEG", pkgConfig: "libturbojpeg", apt: "libturbojpeg0-dev"),
        cLibrary("CZlib", pkgConfig: "zlib", apt: "zlib1g-dev"),
        cLibrary("CDeflate", pkgConfig: "libdeflate", apt: "libdeflate-dev"),
        cLibrary("CCrypto", pkgConfig: "libcrypto", apt: "libssl-dev"),
        cLibrary("COpenBLAS", pkgConfig: "openblas", apt: "libopenblas-dev"),
        // The direct convolution kernels (AVX-512, chosen at run time): Sources/CConvKernels.
        .target(name: "CConvKernels"),
        // A deflate stream's block boundaries, for pack's parallel compression: Sources/CDeflateScan.
        .target(name: "CDeflateScan"),
        // Baseline grayscale JPEG decoding without libjpeg's per-image set-up, libjpeg-turbo's pixels: Sources/CBaselineJPEG.
        .target(name: "CBaselineJPEG"),
        .target(
            name: "PianoKit",
            dependencies: ["CSndfile", "CSoxr", "CFFTW3", "CTurboJPEG", "CZlib", "CDeflate", "CCrypto", "COpenBLAS", "CConvKernels", "CDeflateScan", "CBaselineJPEG"],
            resources: [.copy("Resources/piano-keys88.safetensors")]
        ),
        // What every stage's command line shares: -o/--output, --jobs, --force, --version, the `error:` prefix.
        .target(
            name: "StageOptions",
            dependencies: ["PianoKit", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "PianoKitTests", dependencies: ["PianoKit", "StageOptions"]),
    ] + stages.map {
        .executableTarget(
            name: $0.target,
            dependencies: ["PianoKit", "StageOptions", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        )
    }
)
