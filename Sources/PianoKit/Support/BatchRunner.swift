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
    /// Runs `work` on every item with up to `jobs` in parallel, with a progress bar on a terminal.
    ///
    /// `name` gives the file an item stands for, for errors that do not name one themselves;
    /// `work` gets a `warn` function that prints a line above the progress bar.
    public static func run<Item: Sendable>(
        _ items: [Item], jobs: Int, label: String, name: @Sendable @escaping (Item) -> String,
        work: @Sendable @escaping (Item, _ warn: @Sendable (String) -> Void) throws -> ItemStatus
    ) -> BatchSummary {
        let progress = Progress(total: items.count, label: label)
        let outcomes: [Result<ItemStatus, FileError>] = items.parallelMap(jobs: jobs) { item in
            let outcome: Result<ItemStatus, FileError>
            do {
                outcome = .success(try work(item) { progress.warn($0) })
            } catch {
                let failure = FileError.wrap(error, path: name(item))
                progress.warn("error: \(failure)")
                outcome = .failure(failure)
            }
            if case .failure = outcome { progress.advance(failed: true) } else { progress.advance() }
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
