import Foundation
import Testing
@testable import PianoKit

/// A clock the test moves, and a sink that keeps what a `Progress` writes.
final class FakeConsole: @unchecked Sendable {
    private let lock = NSLock()
    private var now = 100.0
    private var text = ""

    var clock: @Sendable () -> Double { { [self] in lock.withLock { now } } }
    var write: @Sendable (String) -> Void { { [self] piece in lock.withLock { text += piece } } }
    func wait(_ seconds: Double) { lock.withLock { now += seconds } }
    var written: String { lock.withLock { text } }
    /// Complete lines written so far.
    var lines: [String] { written.split(separator: "\n").map(String.init) }
}

@Suite struct ProgressTests {
    @Test func clockTimes() {
        #expect(Progress.clockTime(0) == "0:00")
        #expect(Progress.clockTime(4.4) == "0:04")
        #expect(Progress.clockTime(59.6) == "1:00")
        #expect(Progress.clockTime(3599) == "59:59")
        #expect(Progress.clockTime(3723) == "1:02:03")
        #expect(Progress.clockTime(.nan) == "0:00")
    }

    /// Items: count, rate, elapsed and ETA, on the documented line.
    @Test func heartbeatLinesEveryInterval() {
        let console = FakeConsole()
        let progress = Progress(total: 40, label: "infer", unit: .items("files"), items: 40, mode: .heartbeat(seconds: 2),
                                clock: console.clock, write: console.write)
        for _ in 0 ..< 11 { console.wait(0.1); progress.advance() }  // 1.1 s: no line yet
        #expect(console.lines.isEmpty)
        console.wait(2.9)  // 4.0 s, 12 done
        progress.advance()
        #expect(console.lines == ["infer: 12/40 files, 3.0 files/s, elapsed 0:04, ETA 0:09"])
        progress.tick()  // nothing new to say before the next interval
        #expect(console.lines.count == 1)
        console.wait(2)
        progress.tick()  // the timer's tick writes a heartbeat while nothing finishes
        #expect(console.lines.last == "infer: 12/40 files, 2.0 files/s, elapsed 0:06, ETA 0:14")
        progress.setPhase("valid 200/900 examples")
        console.wait(2)
        progress.advance(failed: true)
        #expect(console.lines.last == "infer: 13/40 files, 1 failed, 1.6 files/s, elapsed 0:08, ETA 0:17 (valid 200/900 examples)")
        progress.warn("warning: x")
        #expect(console.lines.last == "warning: x")
        progress.finish()
        #expect(!console.written.contains("\u{1B}"))  // plain text in a log
    }

    /// Audio seconds: the rate is a multiple of real time, and part of a file moves the meter.
    @Test func audioSecondsAsRealTime() {
        let console = FakeConsole()
        let progress = Progress(total: 165, label: "infer", unit: .audioSeconds, items: 3, mode: .heartbeat(seconds: 1),
                                clock: console.clock, write: console.write)
        console.wait(4)
        progress.add(40)
        #expect(console.lines == ["infer: 40.0/165.0 s of audio in 0/3 files, 10.0x real time, elapsed 0:04, ETA 0:13"])
    }

    /// The terminal bar: redrawn in place, at most ten times a second, warnings above it.
    @Test func terminalBar() {
        let console = FakeConsole()
        let progress = Progress(total: 4, label: "spectro", unit: .items("files"), items: 4, mode: .terminal,
                                clock: console.clock, write: console.write)
        console.wait(1)
        progress.advance()
        let first = console.written
        #expect(first.hasPrefix("\rspectro [#######                       ] 1/4 files, 1.0 files/s, 0:01 elapsed, ETA 0:03"))
        #expect(first.hasSuffix("\u{1B}[K"))
        console.wait(0.05)
        progress.advance()  // too soon to redraw
        #expect(console.written == first)
        progress.warn("error: bad.wav: no")
        #expect(console.written.contains("\r\u{1B}[Kerror: bad.wav: no\n\rspectro [###############               ] 2/4"))
        progress.finish()
        #expect(console.written.hasSuffix("\r\u{1B}[K"))
    }

    /// The environment variable sets the interval; 0 turns heartbeats off.
    @Test func heartbeatFromEnvironment() {
        guard isatty(STDERR_FILENO) == 0 else { return }  // a terminal gets the bar whatever the variable
        #expect(Progress.automaticMode(environment: [:]) == .heartbeat(seconds: 30))
        #expect(Progress.automaticMode(environment: ["PIANO_THUMBS_HEARTBEAT": "1"]) == .heartbeat(seconds: 1))
        #expect(Progress.automaticMode(environment: ["PIANO_THUMBS_HEARTBEAT": "0"]) == .silent)
    }

    /// A batch's items report parts of themselves; the meter never counts an item twice.
    @Test func batchItemsReportTheirParts() {
        let console = FakeConsole()
        let progress = Progress(total: 10, label: "infer", unit: .audioSeconds, items: 2, mode: .heartbeat(seconds: 1),
                                clock: console.clock, write: console.write)
        let item = ItemProgress(progress, weight: 6)
        item.report(0.5, "a: network")
        item.report(0.25)  // never backwards
        console.wait(1)
        item.finish(failed: false)
        #expect(console.lines == ["infer: 6.0/10.0 s of audio in 1/2 files, 6.0x real time, elapsed 0:01, ETA 0:01"])
    }
}
