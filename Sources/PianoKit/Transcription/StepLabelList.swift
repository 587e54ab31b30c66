import Foundation

/// `<stem>.steps.txt`, what `infer --single-label` writes: the paper's single label of every step
/// (Schemas/metrics.md). A header line `Time<TAB>MidiPitch`, then one line per step: its time in
/// seconds (`TimeGrid.time(ofStep:)`, 6 decimals) and the key held then as a MIDI pitch
/// (21...108), 0 for silence.
public enum StepLabelList {
    /// The header line.
    public static let header = "Time\tMidiPitch"

    /// The file's text for per-step `labels` on `grid`.
    public static func format(_ labels: [Int], grid: TimeGrid) -> String {
        var text = header + "\n"
        for (k, label) in labels.enumerated() { text += String(format: "%.6f\t%d\n", grid.time(ofStep: k), label) }
        return text
    }
}
