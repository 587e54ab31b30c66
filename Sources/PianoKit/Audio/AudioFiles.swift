import Foundation

/// The audio files the stages read (whatever libsndfile decodes, by file name), and the rule
/// for a folder that holds one recording in two formats.
public enum AudioFiles {
    /// The extensions taken as audio when folders are searched, lower-cased, in order of
    /// preference: lossless first (wav, flac, aiff), then lossy (Ogg Vorbis or Opus, mp3).
    /// A file named on the command line is opened whatever its extension.
    public static let extensions = ["wav", "flac", "aiff", "aif", "ogg", "oga", "opus", "mp3"]

    /// `extensions` as a set.
    public static let extensionSet = Set(extensions)

    /// The extensions for messages: `.wav, .flac, …, .opus or .mp3`.
    public static let listing = extensions.dropLast().map { "." + $0 }.joined(separator: ", ") + " or ." + extensions.last!

    /// Whether `name` has one of `extensions` (any case).
    public static func isAudio(_ name: String) -> Bool { InputFiles.hasExtension(name, in: extensionSet) }

    /// The rank of `path`'s extension in `extensions` (lower is preferred); unknown extensions last.
    public static func preference(_ path: String) -> Int {
        extensions.firstIndex(of: (path as NSString).pathExtension.lowercased()) ?? extensions.count
    }

    /// One audio file per folder and stem: where `a/x.flac` and `a/x.mp3` both occur, the one whose
    /// extension comes first in `extensions` is kept (ties: the first in path order) and each other
    /// is named in a warning, since outputs are named by stem. Files in different folders are left
    /// alone. Order of the kept files is preserved.
    public static func onePerStem(_ files: [String]) -> (files: [String], warnings: [String]) {
        var chosen: [String: String] = [:]  // folder + stem -> file
        for file in files {
            let key = (file as NSString).deletingPathExtension
            if let current = chosen[key], preference(current) <= preference(file) { continue }
            chosen[key] = file
        }
        var kept: [String] = [], warnings: [String] = []
        var seen = Set<String>()
        for file in files {
            let key = (file as NSString).deletingPathExtension
            guard let winner = chosen[key] else { continue }
            if file == winner {
                if seen.insert(file).inserted { kept.append(file) }
            } else {
                warnings.append("warning: \(file): skipped, \((winner as NSString).lastPathComponent) has the same stem and is used "
                                + "(outputs are named by stem; preference: \(extensions.joined(separator: " > ")))")
            }
        }
        return (kept, warnings)
    }
}

extension SoundFileReader {
    /// The whole file averaged to mono (`readMono()`) and resampled with libsoxr (high quality)
    /// to `sampleRate` Hz: `Resampler.outputLength(frames: info.frames, from: info.sampleRate,
    /// to: sampleRate)` samples, sample j at time j / sampleRate seconds. The file's own samples
    /// when its rate is already `sampleRate`.
    public func readMono(resampledTo sampleRate: Int) throws -> [Float] {
        let mono = try readMono()
        do {
            return try Resampler.resample(mono, from: info.sampleRate, to: sampleRate)
        } catch {
            throw FileError.wrap(error, path: path)
        }
    }
}
