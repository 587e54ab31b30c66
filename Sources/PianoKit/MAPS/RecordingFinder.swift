import Foundation

/// One recording: an audio file and the note sources (MIDI, MAPS txt) that share its stem and folder.
public struct Recording: Sendable, Equatable {
    /// The file name without extension, e.g. `MAPS_ISOL_NO_F_S0_M60_AkPnBcht`.
    public var stem: String
    /// The audio file: a wav, or any format `AudioFiles` lists (the name is the note map's).
    public var wav: String
    /// The MIDI file, if any.
    public var mid: String?
    /// The MAPS note list, if any.
    public var txt: String?

    /// Creates a recording from its files.
    public init(stem: String, wav: String, mid: String? = nil, txt: String? = nil) {
        self.stem = stem
        self.wav = wav
        self.mid = mid
        self.txt = txt
    }

    /// All files of the recording.
    public var files: [String] { [wav] + [mid, txt].compactMap { $0 } }
}

/// Finds recordings in folders (recursively) and file lists, pairing files by stem.
public enum RecordingFinder {
    /// What a search found: complete recordings and, for the rest, one error each.
    public struct Result: Sendable {
        /// Recordings with an audio file and at least one note source, sorted by stem.
        public var recordings: [Recording]
        /// Problems: files without partners, duplicate stems, inputs that do not exist.
        public var problems: [FileError]
        /// Lines for stderr that fail nothing: audio files passed over for another format of the same recording.
        public var warnings: [String] = []
    }

    static let audioExtensions = AudioFiles.extensionSet
    static let midiExtensions: Set<String> = ["mid", "midi"]
    static let textExtensions: Set<String> = ["txt"]

    /// Searches `inputs`: folders are walked recursively (hidden entries skipped); files are taken as
    /// given, and an audio file given alone is paired with the `.mid`/`.txt` beside it. Audio is any
    /// of `AudioFiles.extensions`; where one folder holds a stem in two audio formats, the preferred
    /// one (`AudioFiles.onePerStem`) is used and the other named in a warning.
    public static func find(_ inputs: [String]) -> Result {
        let wanted = audioExtensions.union(midiExtensions).union(textExtensions)
        let (all, found) = InputFiles.expand(inputs, wanted: "audio (\(AudioFiles.listing)), .mid or .txt files") { InputFiles.hasExtension($0, in: wanted) }
        let audio = AudioFiles.onePerStem(all.filter(AudioFiles.isAudio))
        let keptAudio = Set(audio.files)
        let files = all.filter { !AudioFiles.isAudio($0) || keptAudio.contains($0) }
        var problems = found
        struct Group { var wav: String?; var mid: String?; var txt: String?; var extra: [String] = [] }
        var groups: [String: Group] = [:]  // key: folder + stem
        for file in files {
            let url = URL(fileURLWithPath: file)
            let ext = url.pathExtension.lowercased()
            let key = url.deletingPathExtension().path
            var group = groups[key] ?? Group()
            func assign(_ slot: inout String?) {
                if slot == nil { slot = file } else { group.extra.append(file) }
            }
            if audioExtensions.contains(ext) { assign(&group.wav) }
            else if midiExtensions.contains(ext) { assign(&group.mid) }
            else if textExtensions.contains(ext) { assign(&group.txt) }
            else {
                problems.append(FileError(file, "not a recording file (expected audio (\(AudioFiles.listing)), .mid or .txt)"))
                continue
            }
            groups[key] = group
        }
        var recordings: [Recording] = []
        var seenStems: [String: String] = [:]
        for key in groups.keys.sorted() {
            var group = groups[key]!
            let stem = URL(fileURLWithPath: key).lastPathComponent
            // An audio file named on its own (e.g. one slice of a big tree per job) brings its partners along.
            if group.wav != nil, group.mid == nil, group.txt == nil {
                group.mid = midiExtensions.sorted().map { key + "." + $0 }.first(where: FileManager.default.fileExists(atPath:))
                group.txt = textExtensions.map { key + "." + $0 }.first(where: FileManager.default.fileExists(atPath:))
            }
            for file in group.extra {
                problems.append(FileError(file, "a second file for recording \(stem) (already have one of this kind)"))
            }
            guard let wav = group.wav else {
                problems.append(FileError(group.mid ?? group.txt!, "no audio beside it (expected \(key).wav, or .flac, .ogg, .mp3, …)"))
                continue
            }
            guard group.mid != nil || group.txt != nil else {
                problems.append(FileError(wav, "no .mid or .txt beside it to give its notes"))
                continue
            }
            if let other = seenStems[stem] {
                problems.append(FileError(wav, "stem \(stem) already used by \(other); note maps are named by stem"))
                continue
            }
            seenStems[stem] = wav
            recordings.append(Recording(stem: stem, wav: wav, mid: group.mid, txt: group.txt))
        }
        recordings.sort { $0.stem < $1.stem }
        return Result(recordings: recordings, problems: problems, warnings: audio.warnings)
    }
}
