import Foundation

/// How an instrument's sound is made.
public enum Voice: String, Sendable, Codable, CaseIterable {
    /// A SoundFont preset played by fluidsynth (`Instrument.source` is the `.sf2`/`.sf3` file).
    case fluidsynth
    /// A GUS patch set played by timidity (`Instrument.source` is the timidity `.cfg` file).
    case timidity
    /// The toolkit's own additive piano (`SynthPiano`); `Instrument.program` picks the variant.
    case synth

    /// What `Instrument.source` is, for messages.
    public var sourceKind: String {
        switch self {
        case .fluidsynth: "SoundFont"
        case .timidity: "timidity configuration"
        case .synth: "source"
        }
    }
}

/// A corpus instrument: a MAPS-style code, what plays it, and the preset or variant.
///
/// Pianos of one sample set are one instrument family: FluidR3's programs 0-3 share samples
/// (`FR3Mono` too), freepats's two pianos another. `family` names it, so a development protocol
/// can leave a whole family out of training.
public struct Instrument: Sendable, Equatable, Codable {
    /// The code that ends every stem and names the top-level folder, e.g. `FR3Grand`.
    public var code: String
    /// General MIDI program number in bank 0 (fluidsynth, timidity), or the synth variant 0...
    public var program: Int
    /// The preset's name, for people.
    public var name: String
    /// What plays it (absent in corpus manifests of version 1: fluidsynth).
    public var voice: Voice
    /// The SoundFont or timidity configuration, as an absolute path or a file name looked up in
    /// the usual folders (`/usr/share/sounds/sf2`, `/usr/share/sounds/sf3`, `/etc/timidity`);
    /// empty for the synth and, in version 1 manifests, for the manifest's `soundFont`.
    public var source: String
    /// The sample set the instrument's sound comes from (instruments of one family are not
    /// independent pianos).
    public var family: String

    /// Creates an instrument.
    public init(code: String, program: Int, name: String, voice: Voice = .fluidsynth, source: String = "", family: String = "") {
        self.code = code
        self.program = program
        self.name = name
        self.voice = voice
        self.source = source
        self.family = family
    }

    enum CodingKeys: String, CodingKey { case code, program, name, voice, source, family }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        code = try container.decode(String.self, forKey: .code)
        program = try container.decode(Int.self, forKey: .program)
        name = try container.decode(String.self, forKey: .name)
        voice = try container.decodeIfPresent(Voice.self, forKey: .voice) ?? .fluidsynth
        source = try container.decodeIfPresent(String.self, forKey: .source) ?? ""
        family = try container.decodeIfPresent(String.self, forKey: .family) ?? ""
    }

    static let fluidR3File = "FluidR3_GM.sf2"

    /// The two FluidR3 pianos the demo corpus uses.
    public static let fluidR3: [Instrument] = [
        Instrument(code: "FR3Grand", program: 0, name: "Yamaha Grand Piano", source: fluidR3File, family: "FluidR3"),
        Instrument(code: "FR3Brght", program: 1, name: "Bright Yamaha Grand", source: fluidR3File, family: "FluidR3"),
    ]

    /// Every instrument `corpus --instruments` knows, in the order corpus renders them.
    ///
    /// Free sample sets only, from `freeSources`; the sample sets the developers' guide reserves
    /// for independent evaluation are never listed here.
    public static let known: [Instrument] = fluidR3 + [
        Instrument(code: "FR3EGrnd", program: 2, name: "FluidR3 Electric Grand", source: fluidR3File, family: "FluidR3"),
        Instrument(code: "FR3HTonk", program: 3, name: "FluidR3 Honky-Tonk", source: fluidR3File, family: "FluidR3"),
        Instrument(code: "OPL3Pno1", program: 0, name: "OPL3 FM Acoustic Grand", source: "OPL-3_FM_128M.sf2", family: "OPL3"),
        Instrument(code: "OPL3Pno2", program: 1, name: "OPL3 FM Bright Acoustic", source: "OPL-3_FM_128M.sf2", family: "OPL3"),
        Instrument(code: "FPGrand", program: 0, name: "freepats Acoustic Grand Piano", voice: .timidity, source: "freepats.cfg", family: "freepats"),
        Instrument(code: "FPBrght", program: 1, name: "freepats Acoustic Brite Piano", voice: .timidity, source: "freepats.cfg", family: "freepats"),
    ] + (0 ..< SynthPiano.variants).map {
        Instrument(code: String(format: "SynPno%02d", $0 + 1), program: $0, name: "additive synth piano, variant \($0 + 1)", voice: .synth, family: "synth")
    }

    /// The sound files instruments may be played from (empty: the synth): FluidR3, the OPL3 FM
    /// bank, freepats. Nothing else renders training or development audio.
    public static let freeSources: Set<String> = [fluidR3File, "OPL-3_FM_128M.sf2", "freepats.cfg", ""]

    /// The folders a bare `source` file name is looked up in.
    static let sourceFolders = ["/usr/share/sounds/sf2", "/usr/share/sounds/sf3", "/etc/timidity"]

    /// The path of `source`: itself when it has a `/`, else the first of `sourceFolders` holding
    /// it, else itself in the current folder. Throws naming the file (and, for a bare name, the
    /// Debian package that has it) when it is not there.
    public func sourcePath() throws -> String {
        let missing = "\(voice.sourceKind) not found for instrument \(code)"
        if source.contains("/") {
            guard FileManager.default.isReadableFile(atPath: source) else { throw FileError(source, missing) }
            return source
        }
        for folder in Self.sourceFolders where FileManager.default.isReadableFile(atPath: folder + "/" + source) {
            return folder + "/" + source
        }
        if FileManager.default.isReadableFile(atPath: source) { return source }
        let package = switch family {
        case "FluidR3": "fluid-soundfont-gm"
        case "OPL3": "opl3-soundfont"
        case "freepats": "freepats timidity"
        default: "the package that has it"
        }
        throw FileError(source, "\(missing) in \(Self.sourceFolders.joined(separator: ", ")) (Debian: apt-get install \(package))")
    }
}
