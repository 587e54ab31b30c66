import Foundation

/// What one item of a batch came to.
public enum ItemStatus: Sendable {
    /// The output was (re)made.
    case made
    /// The output was already there and up to date.
    case upToDate
}

/// Counts for a finished batch, and the line that reports them.
public struct BatchSummary: Sendable {
    /// Items in the batch.
    public var total: Int
    /// Items made in this run.
    public var made: Int
    /// Items skipped because their outputs were up to date.
    public var upToDate: Int
    /// One error per failed item.
    public var failures: [FileError]

    /// This summary with inputs that failed before any work (unpaired files, missing folders) counted in.
    public func including(_ problems: [FileError]) -> BatchSummary {
        BatchSummary(total: total + problems.count, made: made, upToDate: upToDate, failures: problems + failures)
    }

    /// `done X of Y, N failed (M made, U up to date)`.
    public var line: String {
        "done \(made + upToDate) of \(total), \(failures.count) failed (\(made) made, \(upToDate) up to date)"
    }
}

/// Runs a stage's work over many inputs the Kaldi way: each bad input is reported on stderr and
/// skipped, the others finish, and the summary says how many failed.
public enum BatchRunner {
    /// Runs `work` on every item with up to `jobs` in parallel, with a progress bar on a terminal
    /// (heartbeat lines elsewhere).
    ///
    /// `name` gives the file an item stands for, for errors that do not name one themselves;
    /// `work` gets a `warn` function that prints a line above the progress bar.
    public static func run<Item: Sendable>(
        _ items: [Item], jobs: Int, label: String, name: @Sendable @escaping (Item) -> String,
        work: @Sendable @escaping (Item, _ warn: @Sendable (String) -> Void) throws -> ItemStatus
    ) -> BatchSummary {
        run(items, jobs: jobs, label: label, unit: .items("files"), weight: { _ in 1 }, name: name) { item, progress in
            try work(item) { progress.warn($0) }
        }
    }

    /// Runs `work` on every item, the progress counted in `unit`: each item weighs `weight(item)`
    /// (its seconds of audio, say), and `work` may report how far into its item it is.
    public static func run<Item: Sendable>(
        _ items: [Item], jobs: Int, label: String, unit: ProgressUnit, weight: (Item) -> Double,
        name: @Sendable @escaping (Item) -> String,
        work: @Sendable @escaping (Item, ItemProgress) throws -> ItemStatus
    ) -> BatchSummary {
        let weights = items.map { max(0, weight($0)) }
        let progress = Progress(total: weights.reduce(0, +), label: label, unit: unit, items: items.count)
        let outcomes: [Result<ItemStatus, FileError>] = Array(zip(items, weights)).parallelMap(jobs: jobs) { item, itemWeight in
            let reporter = ItemProgress(progress, weight: itemWeight)
            let outcome: Result<ItemStatus, FileError>
            do {
                outcome = .success(try work(item, reporter))
            } catch {
                let failure = FileError.wrap(error, path: name(item))
                progress.warn("error: \(failure)")
                outcome = .failure(failure)
            }
            reporter.finish(failed: { if case .failure = outcome { true } else { false } }())
            return outcome
        }
        progress.finish()
        var summary = BatchSummary(total: items.count, made: 0, upToDate: 0, failures: [])
        for outcome in outcomes {
            switch outcome {
            case .success(.made): summary.made += 1
            case .success(.upToDate): summary.upToDate += 1
            case .failure(let error): summary.failures.append(error)
            }
        }
        return summary
    }
}

/// One item's share of a batch's progress: what its work reports while it runs.
public final class ItemProgress: @unchecked Sendable {
    private let progress: Progress
    private let weight: Double
    private var counted = 0.0  // only the item's own worker touches it

    init(_ progress: Progress, weight: Double) {
        self.progress = progress
        self.weight = weight
    }

    /// Prints a line above the progress bar.
    public func warn(_ line: String) { progress.warn(line) }

    /// Prints a result line on stdout (`Progress.say`).
    public func say(_ line: String) { progress.say(line) }

    /// Says how far into the item its work is (0...1) and what it is doing (`spectrogram`, `network 3/28 batches`).
    public func report(_ fraction: Double, _ phase: String? = nil) {
        let target = weight * min(1, max(0, fraction))
        let more = max(0, target - counted)
        counted += more
        if let phase { progress.setPhase(phase) }
        if more > 0 { progress.add(more) }
    }

    func finish(failed: Bool) {
        let more = max(0, weight - counted)
        counted = weight
        progress.advance(failed: failed, amount: more, endPhase: true)
    }
}
