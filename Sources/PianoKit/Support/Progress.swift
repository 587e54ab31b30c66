import Foundation

/// What a progress meter counts.
public enum ProgressUnit: Sendable, Equatable {
    /// Whole items (`files`, `steps`, `examples`); the rate is items per second.
    case items(String)
    /// Seconds of audio; the rate is a multiple of real time.
    case audioSeconds
}

/// Progress on stderr: on a terminal a one-line bar redrawn in place, elsewhere (a Slurm or CI
/// log) a plain heartbeat line every `PIANO_THUMBS_HEARTBEAT` seconds (default 30; 0 turns it
/// off). Both say how far, how fast, the time elapsed and the time left:
///
///     infer [#########                     ] 12/40 files, 3.1 files/s, 0:04 elapsed, ETA 0:09
///     infer: 12/40 files, 3.1 files/s, elapsed 0:04, ETA 0:09
///
/// Thread-safe: workers call `advance()` from any thread. A timer redraws the bar (and writes
/// heartbeats) while no item finishes; tests drive `tick()` with an injected clock instead.
public final class Progress: @unchecked Sendable {
    /// Where the lines go.
    public enum Mode: Sendable, Equatable {
        /// A bar redrawn in place (stderr is a terminal).
        case terminal
        /// One plain line every so many seconds.
        case heartbeat(seconds: Double)
        /// Nothing.
        case silent
    }

    /// The environment variable that sets the heartbeat interval in seconds.
    public static let heartbeatVariable = "PIANO_THUMBS_HEARTBEAT"
    /// The heartbeat interval when the variable is unset.
    public static let defaultHeartbeat = 30.0

    /// The mode for stderr: a bar on a terminal, else heartbeats at the environment's interval.
    public static func automaticMode(environment: [String: String] = ProcessInfo.processInfo.environment) -> Mode {
        if isatty(STDERR_FILENO) != 0 { return .terminal }
        let seconds = environment[heartbeatVariable].flatMap { Double($0.trimmingCharacters(in: .whitespaces)) } ?? defaultHeartbeat
        return seconds > 0 && seconds.isFinite ? .heartbeat(seconds: seconds) : .silent
    }

    private let label: String
    private let unit: ProgressUnit
    private let total: Double
    private let itemCount: Int
    private let mode: Mode
    private let clock: @Sendable () -> Double
    private let write: @Sendable (String) -> Void
    private let started: Double
    private let lock = NSLock()
    private var amount = 0.0
    private var itemsDone = 0
    private var failed = 0
    private var phase: String?
    private var lastDraw = -Double.infinity
    private var lastBeat: Double
    private var timer: DispatchSourceTimer?

    /// A meter for `total` items (files, steps, examples: `unit`), on stderr in `mode`.
    public convenience init(total: Int, label: String, unit: String = "files", mode: Mode = Progress.automaticMode()) {
        self.init(total: Double(total), label: label, unit: .items(unit), items: total, mode: mode)
    }

    /// A meter of `total` in `unit` over `items` items (for audio seconds: the files they are in).
    ///
    /// `clock` gives seconds on any monotonic scale and `write` receives the text (the bar's
    /// control characters included); with the defaults a timer keeps the line current.
    public init(total: Double, label: String, unit: ProgressUnit, items: Int, mode: Mode = Progress.automaticMode(),
                clock: (@Sendable () -> Double)? = nil, write: (@Sendable (String) -> Void)? = nil) {
        self.total = max(0, total)
        self.label = label
        self.unit = unit
        itemCount = items
        self.mode = items > 0 || total > 0 ? mode : .silent
        self.clock = clock ?? { ProcessInfo.processInfo.systemUptime }
        self.write = write ?? { FileHandle.standardError.write(Data($0.utf8)) }
        started = self.clock()
        lastBeat = started
        if clock == nil, write == nil { startTimer() }
    }

    deinit { timer?.cancel() }

    /// Records one finished item (failed or not); `amount` is what it counts in the meter's unit
    /// beyond what `add` already counted of it (1 for items); `endPhase` clears the phase.
    public func advance(failed itemFailed: Bool = false, amount more: Double? = nil, endPhase: Bool = false) {
        update {
            if endPhase { phase = nil }
            itemsDone += 1
            if itemFailed { failed += 1 }
            if case .items = unit { amount += more ?? 1 } else { amount += more ?? 0 }
            if itemsDone == itemCount { lastDraw = -.infinity }  // the last item is always drawn
        }
    }

    /// Counts part of an item (audio seconds of a recording being transcribed).
    public func add(_ more: Double) { update { amount += more } }

    /// Sets how much is done (examples evaluated so far).
    public func set(done: Double) { update { amount = done } }

    /// Says what is going on inside the current item (`spectrogram`, `valid 200/900 examples`), or nothing.
    public func setPhase(_ text: String?) { update { phase = text; lastDraw = -.infinity } }

    /// Redraws the bar or writes a heartbeat if one is due (the timer calls this).
    public func tick() { update {} }

    /// Clears the bar so that ordinary messages can be printed on a clean line; stops the timer.
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        timer?.cancel()
        timer = nil
        if mode == .terminal { write("\r\u{1B}[K") }
    }

    /// Prints a result line on stdout (on a terminal, the bar on stderr is cleared first and redrawn after).
    public func say(_ line: String) { printAbove(line) { FileHandle.standardOutput.write(Data(($0 + "\n").utf8)) } }

    /// Prints a warning line (above the bar on a terminal).
    public func warn(_ line: String) { printAbove(line) { self.write($0 + "\n") } }

    /// Clears the bar (on a terminal), prints `line` with `print`, and draws the bar again.
    private func printAbove(_ line: String, _ print: (String) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        if mode == .terminal { write("\r\u{1B}[K") }
        print(line)
        if mode == .terminal { write("\r" + fitted(barLine())) }
    }

    private func update(_ change: () -> Void) {
        lock.lock()
        defer { lock.unlock() }
        change()
        let now = clock()
        switch mode {
        case .terminal:
            if now - lastDraw >= 0.1 {
                lastDraw = now
                write("\r" + fitted(barLine(now: now)))
            }
        case .heartbeat(let seconds):
            if now - lastBeat >= seconds {
                lastBeat = now
                write(heartbeatLine(now: now) + "\n")
            }
        case .silent:
            break
        }
    }

    // MARK: the text

    /// `12/40 files, 3.1 files/s, ` or `40.0/165.0 s of audio in 1/3 files, 12.3x real time, `.
    private func counts(elapsed: Double) -> String {
        let rate = elapsed > 0 ? amount / elapsed : 0
        let failures = failed > 0 ? ", \(failed) failed" : ""
        switch unit {
        case .items(let noun):
            return "\(Int(amount.rounded()))/\(Int(total.rounded())) \(noun)\(failures), " + String(format: "%.1f %@/s", rate, noun)
        case .audioSeconds:
            return String(format: "%.1f/%.1f s of audio in %d/%d files%@, %.1fx real time", amount, total, itemsDone, itemCount, failures, rate)
        }
    }

    private func remaining(elapsed: Double) -> String {
        guard amount > 0, elapsed > 0 else { return "--:--" }
        return Self.clockTime(max(0, total - amount) * elapsed / amount)
    }

    /// The terminal line (without the leading carriage return).
    func barLine(now: Double? = nil) -> String {
        let elapsed = (now ?? clock()) - started
        let width = 30
        let filled = total > 0 ? min(width, Int(Double(width) * amount / total)) : width
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        return "\(label) [\(bar)] \(counts(elapsed: elapsed)), \(Self.clockTime(elapsed)) elapsed, ETA \(remaining(elapsed: elapsed))"
            + (phase.map { " · \($0)" } ?? "")
    }

    /// A heartbeat line: `infer: 12/40 files, 3.1 files/s, elapsed 0:04, ETA 0:09`.
    func heartbeatLine(now: Double? = nil) -> String {
        let elapsed = (now ?? clock()) - started
        return "\(label): \(counts(elapsed: elapsed)), elapsed \(Self.clockTime(elapsed)), ETA \(remaining(elapsed: elapsed))"
            + (phase.map { " (\($0))" } ?? "")
    }

    /// `m:ss` under an hour, else `h:mm:ss`.
    public static func clockTime(_ seconds: Double) -> String {
        let s = Int(max(0, seconds.isFinite ? seconds : 0).rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    /// The line cut to the terminal's width, so that it never wraps (which breaks redrawing in place).
    private func fitted(_ line: String) -> String {
        var size = winsize()
        let columns = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 120
        return (line.count < columns ? line : String(line.prefix(columns - 1))) + "\u{1B}[K"
    }

    private func startTimer() {
        let interval: Double
        switch mode {
        case .terminal: interval = 0.5
        case .heartbeat(let seconds): interval = min(1, seconds)
        case .silent: return
        }
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(50))
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
        self.timer = timer
    }
}
