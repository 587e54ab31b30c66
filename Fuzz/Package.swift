// swift-tools-version:5.3
// libFuzzer targets for PianoKit's file readers, kept out of the main package so that its
// `swift build` / `swift test` never see fuzzer flags. Build and run them with scripts/fuzz.sh.
//
// Tools version 5.3 on purpose (as swift-protobuf's FuzzTesting): each target is a `.target`
// whose main.swift is compiled with -parse-as-library, so it defines no `main` and libFuzzer's is
// linked in; from 5.5 on SwiftPM renames an executable's entry point and the link would fail.
import PackageDescription

/// The fuzz targets: one executable per reader, each a single main.swift defining LLVMFuzzerTestOneInput.
let targets = ["FuzzMIDI", "FuzzMAPS", "FuzzWav", "FuzzArchive", "FuzzManifest", "FuzzSafeTensors", "FuzzJPEG"]

let package = Package(
    name: "PianoFuzz",
    platforms: [.macOS("13.0")],  // as the root package; .v13 needs tools 5.7
    // The root package's identity is its folder name, which differs between checkouts, so it is named here.
    dependencies: [.package(name: "piano-thumbs", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "PianoKit", package: "piano-thumbs")]),
    ] + targets.map {
        .target(name: $0, dependencies: [.product(name: "PianoKit", package: "piano-thumbs"), "FuzzSupport"])
    }
)
