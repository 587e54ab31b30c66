/// Area-averaging resampling weights: output cell i of m covers source cells [i n/m, (i+1) n/m),
/// each source cell weighted by how much of it falls inside, so the mean level is kept whether the
/// axis shrinks or grows.
struct AreaResize: Sendable, Equatable {
    /// Source length.
    let from: Int
    /// Output length.
    let to: Int
    /// For each output cell: (first source index, weights of consecutive source cells), weights summing to 1.
    let cells: [(start: Int, weights: [Float])]

    init(from: Int, to: Int) {
        precondition(from > 0 && to > 0)
        self.from = from
        self.to = to
        let scale = Double(from) / Double(to)
        var cells: [(Int, [Float])] = []
        for i in 0 ..< to {
            let lo = Double(i) * scale, hi = Double(i + 1) * scale
            let first = Int(lo.rounded(.down)), last = min(from - 1, Int((hi - 1e-9).rounded(.down)))
            var weights: [Float] = []
            for j in first ... max(first, last) {
                let overlap = min(hi, Double(j + 1)) - max(lo, Double(j))
                weights.append(Float(overlap / scale))
            }
            cells.append((first, weights))
        }
        self.cells = cells
    }

    static func == (a: AreaResize, b: AreaResize) -> Bool { a.from == b.from && a.to == b.to }
}
