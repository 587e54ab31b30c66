import Foundation

/// One `ingest` run: find recordings, make each note map that is missing or stale, update the index.
public struct IngestRun: Sendable {
    /// Where the note maps go.
    public var outputDirectory: String
    /// The settings.
    public var options: IngestOptions
    /// Whether to remake up-to-date note maps.
    public var force: Bool
    /// Recordings processed in parallel.
    public var jobs: Int

    /// Creates a run.
    public init(outputDirectory: String, options: IngestOptions, force: Bool, jobs: Int) {
        self.outputDirectory = outputDirectory
        self.options = options
        self.force = force
        self.jobs = jobs
    }

    /// Runs over `inputs`, printing errors, warnings and the summary line on stderr.
    ///
    /// Problems found while pairing files (a wav without notes, notes without a wav) count as failures.
    public func run(_ inputs: [String]) throws -> BatchSummary {
        let found = RecordingFinder.find(inputs)
        for problem in found.problems { printError("error: \(problem)") }
        for warning in found.warnings { printError(warning) }
        let created = try AtomicWrite.prepareOutputDirectory(outputDirectory)
        let directory = outputDirectory, options = self.options, force = self.force, otherSettings = OnceFlag()
        let summary = BatchRunner.run(found.recordings, jobs: jobs, label: "ingest", name: \.wav) { recording, warn in
            let path = NoteMapBuilder.outputPath(for: recording, in: directory)
            if !force && NoteMapBuilder.isUpToDate(path, recording: recording, options: options) { return .upToDate }
            // A note map there made with other settings is remade; the first one of the run is named.
            if !force, FileManager.default.fileExists(atPath: path), let existing = try? NoteMap.read(path: path) {
                let differences = NoteMapBuilder.settingsDifferences(existing, options: options)
                if !differences.isEmpty, otherSettings.first() { warn(SettingsDifference.warning(folder: directory, differences: differences)) }
            }
            let map = try NoteMapBuilder.build(recording, options: options, outputDirectory: directory, warn: warn)
            try AtomicWrite.write(try map.encoded(), to: path)
            return .made
        }
        .including(found.problems)
        // Reads only the note maps the folder's index cache does not know (new or remade ones); a
        // run that made nothing in a folder without an index leaves no index (nor a new, empty folder).
        if summary.made + summary.upToDate > 0 || FileManager.default.fileExists(atPath: directory + "/" + NoteMapIndex.fileName) {
            for problem in try NoteMapIndex.update(directory) { printError("warning: left out of the index: \(problem)") }
        } else if created {
            AtomicWrite.removeIfEmpty(directory)
        }
        printError(summary.line)
        return summary
    }
}
