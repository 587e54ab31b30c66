import ArgumentParser
import Foundation
import PianoKit
import StageOptions

/// Times the front end's transform alone on one wav, for bench/cqt.sh to set beside librosa.
@main
struct BenchCQT: ParsableCommand {
    static func main() { stageMain() }

    static let configuration = CommandConfiguration(
        commandName: "bench-cqt",
        abstract: "Time the CQT (or STFT) of one wav, excluding file reading; prints the median in ms.",
        version: toolkitVersion)

    @Argument(help: "A wav file.")
    var wav: String

    @Option(help: "cqt or stft.")
    var transform = TransformKind.cqt

    @Option(help: "Bins per octave.")
    var binsPerOctave = 12

    @Option(help: "Hop in samples.")
    var hop = 512

    @Option(help: "Threads inside the transform.")
    var threads = 1

    @Option(help: "Timed repetitions (after one warm-up).")
    var repeats = 7

    func run() throws {
        let reader = try SoundFileReader(path: wav)
        let signal = try reader.readMono()
        let frontEnd = try FrontEnd(transform: transform.rawValue, sampleRate: reader.info.sampleRate, hop: hop, binsPerOctave: binsPerOctave)
        _ = frontEnd.spectrogram(of: signal, threads: threads)
        var times: [Double] = []
        for _ in 0 ..< repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let spectrogram = frontEnd.spectrogram(of: signal, threads: threads)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            precondition(spectrogram.frames == signal.count / hop + 1)
        }
        times.sort()
        print(String(format: "%.2f", times[times.count / 2]))
    }
}
