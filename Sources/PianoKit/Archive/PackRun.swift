import Foundation

/// The settings of a `pack` run.
public struct PackOptions: Sendable, Equatable {
    /// Train, valid, test proportions.
    public var ratios = [8, 1, 1]
    /// `recording` (default) or `step` (the paper's split over images, which leaks).
    public var splitBy = "recording"
    /// Instruments whose recordings form the test split (then ratios split the rest into train and valid).
    public var testInstruments: [String] = []
    /// Shuffling seed.
    public var seed: UInt64 = 1
    /// Each split is written as runs of up to this many consecutive examples of one recording, the
    /// runs in a seeded random order over the whole split (1: every example on its own). Runs keep
    /// near-identical neighbouring frames together, which deflate compresses well.
    public var shuffleBlock = 16
    /// Examples per shard; nil writes one archive.
    public var shardSize: Int?
    /// zlib level.
    public var level: Int32 = 6
    /// Threads for JPEG decoding and compression.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Write zip64 headers even for small archives (for tests of readers).
    public var forceZip64 = false
    /// Fail the whole run (write nothing) on any bad thumbnail folder instead of leaving it out.
    public var strict = false
    /// Write the archive even when a split with a share in `ratios` comes out empty.
    public var allowEmptySplits = false
    /// Also write offset targets (`<split>_offsets`, for a network's offset head), derived from
    /// consecutive rows of each recording's label index; needs onsets (version 2 label indexes).
    public var offsets = false

    /// Default settings.
    public init() {}
}

/// One `pack` run: read thumbnail folders, split them, and write the archive (or shards).
public struct PackRun: Sendable {
    /// The output path (`data.npz`; shards become `data-00000-of-00004.npz`...).
    public var output: String
    /// The settings.
    public var options: PackOptions

    /// Creates a run.
    public init(output: String, options: PackOptions) {
        self.output = output
        self.options = options
    }

    /// An example: which recording (index into the folder list) and which row of its labels.
    struct Example { var recording: Int; var row: Int }

    /// Thumbnails of some recordings could not be decoded while writing: by recording index, the first error of each.
    struct BadThumbnails: Error {
        var failures: [Int: FileError]
    }

    /// Packs `inputs`; returns the summary (items are recordings) and the archive paths written.
    ///
    /// A thumbnail folder that cannot be read (sidecar, label index, a missing thumbnail) or
    /// holds a thumbnail that does not decode to the right size is reported on one `error:` line,
    /// left out, and named in the manifest's `leftOut`; the archive is then exactly what packing
    /// the other folders gives (the split is drawn over those), and the summary counts the
    /// failure, so the stage exits 1. A thumbnail that fails is found while the archive is being
    /// written: the write is abandoned and redone without that recording. With `strict` any bad
    /// folder fails the whole run and nothing is written.
    public func run(_ inputs: [String]) throws -> (BatchSummary, [String]) {
        try AtomicWrite.probeFile(output)  // an unwritable output fails now, before any thumbnail is read
        let found = ThumbnailFolder.find(inputs)
        if options.strict, let problem = found.problems.first { throw problem }
        for problem in found.problems { printError("error: \(problem)") }
        let loaded: [Result<ThumbnailFolder, FileError>] = found.folders.parallelMap(jobs: options.threads) { path in
            do { return .success(try ThumbnailFolder(path: path)) } catch { return .failure(FileError.wrap(error, path: path)) }
        }
        var folders: [ThumbnailFolder] = [], failures = found.problems
        var leftOut: [ArchiveManifest.LeftOutRecord] = []
        for (path, result) in zip(found.folders, loaded) {
            switch result {
            case .success(let folder): folders.append(folder)
            case .failure(let error):
                if options.strict { throw error }  // the first bad folder, in input order
                printError("error: \(error)")
                failures.append(error)
                leftOut.append(.init(path: path, error: error))
            }
        }
        var paths: [String] = []
        while true {
            guard let first = folders.first else { throw StageFailure("no usable thumbnail folders in \(inputs.joined(separator: " "))") }
            var seen: [String: String] = [:]
            for folder in folders {
                if let other = seen[folder.set.stem] { throw FileError(folder.path, "stem \(folder.set.stem) is also in \(other)") }
                seen[folder.set.stem] = folder.path
                guard folder.set.sameSettings(as: first.set) else {
                    throw FileError(folder.path, "made with other settings than \(first.path): \(Self.describe(folder.set)) vs \(Self.describe(first.set)); re-run spectro with one set of options")
                }
            }
            let assignment = try assign(folders)
            try checkSplits(assignment, recordings: folders.count)
            do {
                paths = try write(folders, assignment: assignment, leftOut: leftOut.sorted { ($0.folder, $0.problem) < ($1.folder, $1.problem) })
                break
            } catch let bad as BadThumbnails {
                for (r, error) in bad.failures.sorted(by: { $0.key < $1.key }) {
                    if options.strict { throw error }
                    printError("error: \(error)")
                    failures.append(error)
                    leftOut.append(.init(path: folders[r].path, error: error))
                }
                folders = folders.enumerated().filter { bad.failures[$0.offset] == nil }.map(\.element)
                printError("pack: left out \(bad.failures.count) recording\(bad.failures.count == 1 ? "" : "s") with bad thumbnails; writing again")
            }
        }
        let summary = BatchSummary(total: found.folders.count + found.problems.count, made: folders.count, upToDate: 0, failures: failures)
        printError("pack: wrote \(paths.joined(separator: ", "))")
        printError(summary.line)
        return (summary, paths)
    }

    /// Refuses an assignment that leaves empty a split the ratios give a share (unless allowed):
    /// two recordings split 8:1:1 by recording leave valid and test empty, and `train` then reports
    /// nothing about them.
    func checkSplits(_ assignment: [[Int]], recordings: Int) throws {
        guard !options.allowEmptySplits else { return }
        var counts = [0, 0, 0]
        for rows in assignment { for split in rows { counts[split] += 1 } }
        let byInstrument = !options.testInstruments.isEmpty
        let empty = ArchiveManifest.splitNames.indices.filter { counts[$0] == 0 && (options.ratios[$0] > 0 || (byInstrument && $0 == 2)) }
        guard !empty.isEmpty else { return }
        let names = empty.map { ArchiveManifest.splitNames[$0] }
        let listed = names.count == 1 ? "the \(names[0]) split comes" : "the " + names.dropLast().joined(separator: ", ") + " and \(names.last!) splits come"
        let ratios = options.ratios.map(String.init).joined(separator: ":")
        throw FileError(output, "\(listed) out empty (\(recordings) recording\(recordings == 1 ? "" : "s") split \(ratios) by \(options.splitBy)): "
            + "pack more recordings, or --split-by step, or --split with 0 for \(names.count == 1 ? "that split" : "those splits"), or --allow-empty-splits to write it anyway")
    }

    static func describe(_ set: ThumbnailSet) -> String {
        "\(set.transform.transform) \(set.transform.bins) bins, hop \(set.transform.hop) at \(set.transform.sampleRate) Hz, size \(set.geometry), context \(set.geometry.context), quality \(set.quality), every \(set.every)"
    }

    /// The split of every example: a split index (0 train, 1 valid, 2 test) per recording row.
    func assign(_ folders: [ThumbnailFolder]) throws -> [[Int]] {
        var rng = SeededGenerator(seed: options.seed)
        let ratios = options.ratios.map(Double.init)
        func cut(_ count: Int, _ weights: [Double]) -> [Int] {
            // Split positions 0..<count by cumulative proportion: the first ones go to split 0, and so on.
            let total = weights.reduce(0, +)
            var bounds: [Int] = []
            var acc = 0.0
            for w in weights.dropLast() { acc += w; bounds.append(Int((Double(count) * acc / total).rounded())) }
            return (0 ..< count).map { i in bounds.firstIndex { i < $0 } ?? weights.count - 1 }
        }
        switch options.splitBy {
        case "step":
            var all: [(Int, Int)] = []
            for (r, folder) in folders.enumerated() { for i in folder.rows.indices { all.append((r, i)) } }
            all.shuffle(using: &rng)
            let splits = cut(all.count, ratios)
            var result = folders.map { [Int](repeating: 0, count: $0.rows.count) }
            for (position, (r, i)) in all.enumerated() { result[r][i] = splits[position] }
            return result
        default:
            var order = Array(folders.indices)
            var splitOf = [Int](repeating: 0, count: folders.count)
            if !options.testInstruments.isEmpty {
                let test = Set(options.testInstruments)
                order = order.filter { !test.contains(folders[$0].set.maps.instrument ?? "") }
                for i in folders.indices where test.contains(folders[i].set.maps.instrument ?? "") { splitOf[i] = 2 }
                guard order.count < folders.count else {
                    throw StageFailure("--test-instruments \(options.testInstruments.joined(separator: ",")): no recording has these instruments")
                }
                order.shuffle(using: &rng)
                for (position, split) in cut(order.count, Array(ratios.prefix(2))).enumerated() { splitOf[order[position]] = split }
            } else {
                order.shuffle(using: &rng)
                for (position, split) in cut(order.count, ratios).enumerated() { splitOf[order[position]] = split }
            }
            return folders.indices.map { [Int](repeating: splitOf[$0], count: folders[$0].rows.count) }
        }
    }

    /// Writes the archive or shards under temporary names, then renames them into place.
    func write(_ folders: [ThumbnailFolder], assignment: [[Int]], leftOut: [ArchiveManifest.LeftOutRecord] = []) throws -> [String] {
        // Examples in archive order: train, then valid, then test; within a split as runs of up to
        // `shuffleBlock` consecutive examples of one recording, the runs in a seeded pseudo-random
        // order over the whole split, so that a streaming reader with a modest shuffle buffer sees
        // every category and recording mixed (in recording order they would come one recording,
        // and one MAPS category, at a time).
        var runs: [[[Example]]] = [[], [], []]
        let block = max(1, options.shuffleBlock)
        for (r, folder) in folders.enumerated() {
            var current: (split: Int, examples: [Example]) = (-1, [])
            for i in folder.rows.indices {
                let split = assignment[r][i]
                if split != current.split || current.examples.count == block {
                    if !current.examples.isEmpty { runs[current.split].append(current.examples) }
                    current = (split, [])
                }
                current.examples.append(Example(recording: r, row: i))
            }
            if !current.examples.isEmpty { runs[current.split].append(current.examples) }
        }
        var bySplit: [[Example]] = [[], [], []]
        for s in runs.indices {
            var rng = SeededGenerator(seed: options.seed &+ 0x5_1FF1E &+ UInt64(s))
            runs[s].shuffle(using: &rng)
            bySplit[s] = runs[s].flatMap { $0 }
        }
        let all = bySplit.enumerated().flatMap { split, examples in examples.map { (split, $0) } }
        let shardSize = options.shardSize ?? max(1, all.count)
        let shardCount = max(1, (all.count + shardSize - 1) / shardSize)
        let paths = (0 ..< shardCount).map { shardPath($0, of: shardCount) }
        let recordings = folders.enumerated().map { r, folder in
            ArchiveManifest.RecordingRecord(
                id: r, stem: folder.set.stem, category: folder.set.maps.category, instrument: folder.set.maps.instrument,
                split: options.splitBy == "step" ? nil : ArchiveManifest.splitNames[assignment[r].first ?? 0], examples: folder.rows.count)
        }
        for path in paths { AtomicWrite.removeStale(for: path) }  // what a killed pack of the same archive left
        var temporaries: [String] = []
        do {
            for shard in 0 ..< shardCount {
                let slice = Array(all[min(all.count, shard * shardSize) ..< min(all.count, (shard + 1) * shardSize)])
                let temporary = AtomicWrite.temporaryPath(for: paths[shard])
                temporaries.append(temporary)
                try writeShard(slice, folders: folders, recordings: recordings, shard: shard, count: shardCount,
                               firstExample: shard * shardSize, leftOut: leftOut, to: temporary)
            }
            for (temporary, path) in zip(temporaries, paths) { try AtomicWrite.commit(temporary, to: path) }
        } catch {
            for temporary in temporaries { unlink(temporary) }
            guard var named = error as? FileError else { throw error }
            for (temporary, path) in zip(temporaries, paths) { named = named.replacingTemporary(temporary, with: path) }
            throw named
        }
        return paths
    }

    func shardPath(_ index: Int, of count: Int) -> String {
        guard options.shardSize != nil else { return output }
        let url = URL(fileURLWithPath: output)
        let ext = url.pathExtension.isEmpty ? "npz" : url.pathExtension
        func five(_ n: Int) -> String { String(repeating: "0", count: max(0, 5 - String(n).count)) + String(n) }
        return url.deletingPathExtension().path + "-\(five(index))-of-\(five(count)).\(ext)"
    }

    func writeShard(_ examples: [(Int, Example)], folders: [ThumbnailFolder], recordings: [ArchiveManifest.RecordingRecord],
                    shard: Int, count: Int, firstExample: Int, leftOut: [ArchiveManifest.LeftOutRecord] = [], to path: String) throws {
        try AtomicWrite.createParent(of: path)
        let writer = try ZipWriter(path: path, level: options.level, threads: options.threads, forceZip64: options.forceZip64)
        let set = folders[0].set
        let geometry = set.geometry
        // Onset targets only when every folder has them (version 2 label indexes).
        let onsets = folders.allSatisfy { $0.rows.allSatisfy { $0.onsets != nil } }
        if options.offsets && !onsets {
            let old = folders.first { $0.rows.contains { $0.onsets == nil } }!
            throw FileError(old.path, "--offsets needs onsets in every label index, and this one has none (made by an older spectro): re-run spectro")
        }
        let offsets = options.offsets
        var members: [ArchiveManifest.MemberRecord] = []
        var contents: [String: ArchiveManifest.SplitContents] = [:]
        let keys = pianoKeys.count, lowest = pianoKeys.lowerBound
        for (s, name) in ArchiveManifest.splitNames.enumerated() {
            let split = examples.filter { $0.0 == s }.map(\.1)
            var labels = [UInt8](repeating: 0, count: split.count), notes = [UInt8](repeating: 0, count: split.count * keys)
            var starts = [UInt8](repeating: 0, count: onsets ? split.count * keys : 0)
            var ends = [UInt8](repeating: 0, count: offsets ? split.count * keys : 0)
            var source = [Int32](repeating: 0, count: split.count * 2)  // little-endian pairs
            var histogram = [Int](repeating: 0, count: 128), recordings = Set<Int>()
            for (i, example) in split.enumerated() {
                let row = folders[example.recording].rows[example.row]
                labels[i] = UInt8(row.label)
                histogram[row.label] += 1
                for key in row.notes { notes[i * keys + key - lowest] = 1 }
                if onsets { for key in row.onsets! { starts[i * keys + key - lowest] = 1 } }
                if offsets { for key in folders[example.recording].endedKeys(before: example.row) { ends[i * keys + key - lowest] = 1 } }
                source[2 * i] = Int32(example.recording).littleEndian
                source[2 * i + 1] = Int32(row.step).littleEndian
                recordings.insert(example.recording)
            }
            contents[name] = .init(count: split.count, recordings: recordings.sorted(), classHistogram: histogram)
            members.append(try writeImages(split, folders: folders, name: "\(name)_images.npy", geometry: geometry, writer: writer))
            members.append(try writeArray(labels, dtype: .uint8, shape: [split.count], name: "\(name)_labels.npy", writer: writer))
            members.append(try writeArray(notes, dtype: .uint8, shape: [split.count, keys], name: "\(name)_notes.npy", writer: writer))
            members.append(try writeArray(source, dtype: .int32, shape: [split.count, 2], name: "\(name)_source.npy", writer: writer))
            if onsets {
                members.append(try writeArray(starts, dtype: .uint8, shape: [split.count, keys], name: "\(name)_onsets.npy", writer: writer))
            }
            if offsets {
                members.append(try writeArray(ends, dtype: .uint8, shape: [split.count, keys], name: "\(name)_offsets.npy", writer: writer))
            }
        }
        let manifest = ArchiveManifest(
            frontEnd: .init(transform: set.transform, decibels: set.decibels, geometry: set.geometry, quality: set.quality, every: set.every),
            labels: .init(onsets: onsets, offsets: offsets),
            split: .init(by: options.testInstruments.isEmpty ? options.splitBy : "instrument", ratios: options.ratios, seed: options.seed,
                         testInstruments: options.testInstruments, leaks: options.splitBy == "step", shuffleBlock: options.shuffleBlock),
            shard: .init(index: shard, count: count, size: options.shardSize, firstExample: firstExample),
            recordings: recordings, splits: contents, members: members, leftOut: leftOut.isEmpty ? nil : leftOut)
        try manifest.validate()
        try writer.addMember(ArchiveManifest.memberName, data: try manifest.encoded(), level: 9)  // small: the best compression costs nothing
        try writer.finish()
    }

    /// Writes `values`' bytes as they lie in memory (little-endian here) behind an NPY header.
    func writeArray<Element>(_ values: [Element], dtype: NPY.DType, shape: [Int], name: String, writer: ZipWriter) throws -> ArchiveManifest.MemberRecord {
        let header = NPY.header(dtype: dtype, shape: shape)
        let record = try writer.addMember(name, size: header.count + values.count * MemoryLayout<Element>.stride) { sink in
            try sink.write(header)
            try values.withUnsafeBytes { try sink.write($0) }
        }
        return .init(name: name, dtype: dtype.rawValue, shape: shape, bytes: record.size, sha256: record.sha256)
    }

    /// Streams a split's images: JPEGs decoded in parallel batches (in the split's shuffled order,
    /// so reads jump between files; the buffer holds one batch), written as one uint8 N x rows x columns array.
    func writeImages(_ split: [Example], folders: [ThumbnailFolder], name: String, geometry: ThumbnailGeometry, writer: ZipWriter) throws -> ArchiveManifest.MemberRecord {
        let shape = [split.count, geometry.rows, geometry.columns]
        let header = NPY.header(dtype: .uint8, shape: shape)
        let pixels = geometry.pixels, batch = 4096, threads = options.threads
        let record = try writer.addMember(name, size: header.count + split.count * pixels) { sink in
            try sink.write(header)
            var buffer = [UInt8](repeating: 0, count: batch * pixels)
            for start in stride(from: 0, to: split.count, by: batch) {
                let part = Array(split[start ..< min(split.count, start + batch)])
                let slots = SendableSlots(count: 0), bad = BadRecordings()
                buffer.withUnsafeMutableBytes { raw in
                    let out = SendablePointer(raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    forEachPart(of: part.count, threads: threads) { range in
                        do {
                            let decoder = try JPEGDecoder()
                            var data: [UInt8] = []
                            // The open folder of the last example (runs of examples share one): files open relative to it.
                            var openFolder = -1, directory = AT_FDCWD
                            defer { if directory != AT_FDCWD { close(directory) } }
                            for i in range {
                                // The name only, not copies of the folder or row: those would retain their
                                // arrays, an atomic count both threads contend for.
                                let recording = part[i].recording, name = folders[recording].rows[part[i].row].file
                                var file: String { folders[recording].path + "/" + name }  // for messages: built only when one is needed
                                if recording != openFolder {
                                    if directory != AT_FDCWD { close(directory) }
                                    let fd = open(folders[recording].path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                    directory = fd >= 0 ? fd : AT_FDCWD  // else by the whole path, which reports the problem
                                    openFolder = recording
                                }
                                do {
                                    let length: Int
                                    do {
                                        length = try Paths.readSmallFile(directory == AT_FDCWD ? file : name, into: &data, limit: 1 << 24,
                                                                         relativeTo: directory)
                                    } catch let error as FileError {
                                        throw FileError(file, "cannot read thumbnail: \(error.message)")
                                    }
                                    try data.withUnsafeBytes { raw in
                                        let jpeg = UnsafeRawBufferPointer(rebasing: raw[0 ..< length])
                                        let size: (width: Int, height: Int)
                                        do {
                                            size = try decoder.decodeGray(jpeg, into: out.pointer + i * pixels, ifSize: (geometry.columns, geometry.rows))
                                        } catch { throw FileError.wrap(error, path: file) }
                                        guard size.width == geometry.columns, size.height == geometry.rows else {
                                            throw FileError(file, "thumbnail is \(size.height)x\(size.width) (rows x columns), thumbs.json says \(geometry)")
                                        }
                                    }
                                } catch {
                                    bad.add(recording, FileError.wrap(error, path: file))  // this recording is left out
                                }
                            }
                        } catch {
                            slots.fail(error)
                        }
                    }
                }
                if let failure = slots.failure { throw failure }
                if !bad.failures.isEmpty { throw BadThumbnails(failures: bad.failures) }
                try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0 ..< part.count * pixels])) }
            }
        }
        return .init(name: name, dtype: NPY.DType.uint8.rawValue, shape: shape, bytes: record.size, sha256: record.sha256)
    }
}

/// The first thumbnail error of each recording, collected by several decoding threads; for one
/// recording the error of the earliest example in the batch is kept, so the message does not
/// depend on thread timing.
final class BadRecordings: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var failures: [Int: FileError] = [:]
    private var order: [Int: String] = [:]
    func add(_ recording: Int, _ error: FileError) {
        lock.lock()
        defer { lock.unlock() }
        if let kept = order[recording], kept <= error.path { return }
        failures[recording] = error
        order[recording] = error.path
    }
}
