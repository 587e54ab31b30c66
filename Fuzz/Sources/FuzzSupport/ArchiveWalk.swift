import PianoKit

/// Reads an archive the ways the stages do, discarding the results: what a fuzz target wants.
public enum ArchiveWalk {
    /// Opens `path`, streams every split's examples (inflating the `.npy` members and checking
    /// their CRCs), then verifies it as `pack verify` does; errors end the walk quietly.
    public static func read(path: String) {
        guard let reader = try? ArchiveReader(path: path) else { return }
        for split in ArchiveManifest.splitNames {
            // A small odd chunk makes the reads straddle inflate and refill boundaries.
            guard let stream = try? reader.examples(split, chunk: 7) else { continue }
            while (try? stream.next()) != nil {}
        }
        _ = reader.verify()
    }
}
