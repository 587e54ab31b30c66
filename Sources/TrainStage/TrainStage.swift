import ArgumentParser
import Foundation
import PianoKit
import StageOptions

@main
struct TrainStage: ParsableCommand {
    static func main() { stageMain(usesBLAS: true) }

    static let configuration = CommandConfiguration(
        commandName: "train-stage",
        abstract: "Add a temporal stage to a model: the paper's single label per step (held key or silence) read from its frame and onset heads over time.",
        discussion: """
        Runs the model over every training recording (audio with its reference, <stem>.txt or \
        <stem>.mid, beside it; folders are searched as infer searches them), and trains a small \
        perceptron that reads, for each candidate key, its frame and onset probabilities and its \
        spectrogram level over +-WINDOW steps and the strongest onset of the last MEMORY steps, \
        and says whether the key is held (TemporalStage; Schemas/model.md). The threshold of \
        the single-label reading is then chosen on the development recordings (keep the test \
        recordings out of both). Writes the model with the stage to OUTPUT; `infer \
        --single-label` reads it. The network's weights are copied unchanged.
        """,
        version: toolkitVersion)

    @Argument(help: "The model (written by train; it needs frame and onset heads and one thumbnail row per key).")
    var model: String

    @Option(name: .customLong("train"), parsing: .upToNextOption, help: "Training recordings: audio files or folders, each with its reference beside it (isolated notes for the paper's task).")
    var train: [String]

    @Option(name: .customLong("dev"), parsing: .upToNextOption, help: "Development recordings (other pianos than the training ones), on which the threshold is chosen.")
    var development: [String]

    @Option(name: .shortAndLong, help: "The model file to write (the network and the stage).")
    var output: String

    @Option(help: "Steps each side of a step whose frame, onset and level values the stage reads.")
    var window = TemporalStage.Settings().window

    @Option(help: "Steps back over which the strongest onset is found.")
    var memory = TemporalStage.Settings().memory

    @Option(help: "Hidden units of the perceptron.")
    var hidden = TemporalStage.Settings().hidden

    @Option(help: "A key is a candidate when its frame probability reaches this at some step of the recording.")
    var candidateFloor = TemporalStage.Settings().candidateFloor

    @Option(help: "Passes over the training rows (every candidate key at every step of every recording).")
    var epochs = TemporalStage.Training().epochs

    @Option(help: "Rows per Adam step.")
    var batch = TemporalStage.Training().batch

    @Option(help: "Adam's learning rate.")
    var learningRate = TemporalStage.Training().learningRate

    @Option(help: "Seeds the initial weights and the order of the rows.")
    var seed = TemporalStage.Training().seed

    @OptionGroup var jobsOption: JobsOption

    func validate() throws {
        guard !train.isEmpty, !development.isEmpty else { throw ValidationError("give training (--train) and development (--dev) recordings") }
        guard epochs > 0, batch > 0, learningRate > 0 else { throw ValidationError("--epochs, --batch and --learning-rate must be positive") }
        if let problem = settings.problem { throw ValidationError(problem) }
        guard URL(fileURLWithPath: output).standardized != URL(fileURLWithPath: model).standardized else {
            throw ValidationError("--output must differ from the model")
        }
        guard ModelFile.isModelName(output) else { throw ValidationError("--output must end in .safetensors") }
    }

    /// The stage's shape from the options (its threshold is chosen by the run).
    var settings: TemporalStage.Settings {
        var settings = TemporalStage.Settings()
        (settings.window, settings.memory, settings.hidden, settings.candidateFloor) = (window, memory, hidden, candidateFloor)
        return settings
    }

    func run() throws {
        var run = StageTrainRun()
        run.settings = settings
        (run.training.epochs, run.training.batch, run.training.learningRate, run.training.seed) = (epochs, batch, learningRate, seed)
        run.threads = jobsOption.jobs
        let record = try run.run(model: model, train: train, development: development, output: output)
        let best = TemporalStage.best(record.development)
        print(String(format: "wrote %@: temporal stage trained on %d recordings (%d rows), development single-label step accuracy %.4f", output,
                     record.trainingRecordings, record.rows, best?.accuracy ?? 0))
    }
}
