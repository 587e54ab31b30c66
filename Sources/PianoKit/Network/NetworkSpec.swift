import Foundation

/// A network as data: a trunk of layers in order and the output heads that share it. Written as
/// JSON (`train --arch FILE`) and into every model file's `__metadata__`, so a network can be
/// rebuilt from its file alone. Documented in `Schemas/network.md`.
///
/// The paper's two networks are the named specs `simple` and `original`; any other network is a
/// spec file. Shapes and the parameter count follow from the spec and an input shape without
/// building anything (`plan`), so a spec or model file that names an impossible or enormous
/// network is refused before any large allocation.
public struct NetworkSpec: Codable, Sendable, Equatable {
    /// The value of `format`.
    public static let formatName = "piano-network"
    /// The version this code writes and reads.
    public static let currentVersion = 1
    /// The most learnable values a spec may have (400 MB of float32).
    public static let maximumParameters = 100_000_000
    /// The most activation values one example may produce across all layers (a batch of 128 then
    /// needs at most 2 GB for them).
    public static let maximumActivations = 4_000_000

    /// Always `piano-network`.
    public var format = formatName
    /// Format version.
    public var version = currentVersion
    /// A name for logs and plots (`simple`, `original`, or the user's).
    public var name: String
    /// The trunk: layers from the input image to the features the heads share.
    public var layers: [LayerSpec]
    /// The output heads, each with its own loss; the first is the primary one (train accuracy and
    /// the log's accuracy columns are its).
    public var heads: [HeadSpec]
    /// How pixels become the network's input: nil (absent) for per-image standardisation (the
    /// paper's, TensorFlow's `per_image_standardization`); a fixed mean and standard deviation
    /// otherwise, which keeps the network's response to a column independent of its neighbours
    /// (what `SlidingEvaluation` needs).
    public var normalization: FixedNormalization?

    /// Creates a spec.
    public init(name: String, layers: [LayerSpec], heads: [HeadSpec], normalization: FixedNormalization? = nil) {
        self.name = name
        self.layers = layers
        self.heads = heads
        self.normalization = normalization
    }

    /// The paper's networks by name.
    public enum Named: String, CaseIterable, Sendable {
        /// TensorFlow's CIFAR-10 network: conv 5x5x64 + ReLU, max pool 3/2, LRN, conv 5x5x64 +
        /// ReLU, LRN, max pool 3/2, dense 384 + ReLU, dense 192 + ReLU, linear output.
        case original
        /// One convolution: conv 5x5x64 + ReLU, max pool 3/2, LRN, linear output.
        case simple
    }

    /// A named spec with `heads` (default: the paper's single 128-way softmax).
    public static func named(_ named: Named, heads: [HeadKind] = [.single]) -> NetworkSpec {
        let conv: LayerSpec = .convolution(filters: 64, kernel: (5, 5), stride: (1, 1), padding: .same, name: nil)
        let pool: LayerSpec = .maxPool(window: (3, 3), stride: (2, 2), padding: .same)
        let lrn: LayerSpec = .localResponseNorm(LRNSettings())
        var layers = [conv, .relu, pool, lrn]
        if named == .original {
            layers += [conv, .relu, lrn, pool, .dense(units: 384, name: "local3"), .relu, .dense(units: 192, name: "local4"), .relu]
        }
        return NetworkSpec(name: named.rawValue, layers: layers, heads: heads.map { HeadSpec(kind: $0) })
    }

    /// The spec `arch` names: a named paper network (with `heads`, default `single`) or a spec
    /// file (whose heads `heads` replaces, when given, by default heads of those kinds).
    public static func resolve(_ arch: String, heads: [HeadKind]?) throws -> NetworkSpec {
        if let named = Named(rawValue: arch) { return .named(named, heads: heads ?? [.single]) }
        guard FileManager.default.fileExists(atPath: arch) else {
            throw StageFailure("--arch \(arch) is neither a named network (\(Named.allCases.map(\.rawValue).joined(separator: ", "))) nor a spec file")
        }
        var spec = try read(path: arch)
        if let heads {
            spec.heads = heads.map { HeadSpec(kind: $0) }
            do { try spec.checkHeads() } catch let error as FormatError { throw StageFailure("--heads: \(error.message)") }
        }
        return spec
    }

    /// Reads a spec file and checks it (versions, duplicate heads, shapes are checked by `plan`).
    public static func read(path: String) throws -> NetworkSpec {
        let bytes = try Paths.readBytes(path, limit: 1 << 20)
        do { return try decode(Data(bytes)) } catch let error as FormatError { throw FileError(path, error.message) }
    }

    /// Decodes and checks spec JSON; throws `FormatError`.
    public static func decode(_ data: Data) throws -> NetworkSpec {
        let spec: NetworkSpec
        do {
            spec = try JSONDecoder().decode(NetworkSpec.self, from: data)
        } catch let error as FormatError {
            throw error
        } catch let error as DecodingError {
            throw FormatError("not a network spec: \(error.shortDescription)")
        } catch {
            throw FormatError("not a network spec: \(error)")
        }
        guard spec.format == formatName else { throw FormatError("format is '\(spec.format)', expected '\(formatName)'") }
        guard spec.version == currentVersion else { throw FormatError("network spec version \(spec.version) is not supported (this build reads \(currentVersion))") }
        try spec.checkHeads()
        if let n = spec.normalization, !(n.mean.isFinite && n.std.isFinite && n.std > 0) {
            throw FormatError("normalization mean \(n.mean) and std \(n.std) must be finite, std positive")
        }
        return spec
    }

    func checkHeads() throws {
        guard !heads.isEmpty else { throw FormatError("the spec has no output heads") }
        let kinds = heads.map(\.kind)
        guard Set(kinds).count == kinds.count else { throw FormatError("heads \(kinds.map(\.rawValue)) name a kind twice") }
        for head in heads where !(head.weight.isFinite && head.weight > 0) {
            throw FormatError("head \(head.kind.rawValue): weight \(head.weight) must be positive")
        }
    }

    /// The spec as compact JSON with sorted keys (the model metadata's `network` value).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The tensor-name prefix of a head's layers: its `name`, else `output` when the network has
    /// one head, else `output_<kind>`.
    public func prefix(of head: HeadSpec) -> String {
        head.name ?? (heads.count == 1 ? "output" : "output_" + head.kind.rawValue)
    }

    /// What the spec builds for `input`: every layer's output shape, the parameter count and the
    /// activation count per example, worked out without allocating. Throws `FormatError` naming
    /// the layer whose shape is impossible, or the limit a spec exceeds. `columnsPerOutput` off
    /// lets each head end with its outputs in every column (a wide input for `SlidingEvaluator`).
    public func plan(input: ActivationShape, columnsPerOutput: Bool = false) throws -> Plan {
        try checkHeads()
        var parameters = 0, activations = 0
        func walk(_ layers: [LayerSpec], from shape: ActivationShape, where place: String) throws -> ActivationShape {
            var shape = shape
            for (i, layer) in layers.enumerated() {
                let (next, count) = try layer.outputShape(for: shape, where: "\(place) layer \(i + 1) (\(layer.type))")
                parameters += count
                activations += next.count
                guard parameters <= Self.maximumParameters else {
                    throw FormatError("the network has more than \(Self.maximumParameters) parameters by \(place) layer \(i + 1) (\(layer.type))")
                }
                guard activations <= Self.maximumActivations else {
                    throw FormatError("the network's activations exceed \(Self.maximumActivations) values per example by \(place) layer \(i + 1) (\(layer.type))")
                }
                shape = next
            }
            return shape
        }
        guard input.count > 0 else { throw FormatError("input \(input.channels)x\(input.height)x\(input.width) is empty") }
        let trunk = try walk(layers, from: input, where: "trunk")
        for head in heads {
            let out = try walk(head.layersOrDefault, from: trunk, where: "head \(head.kind.rawValue)")
            guard out.count == head.kind.outputs || columnsPerOutput && out.count == head.kind.outputs * out.width else {
                throw FormatError("head \(head.kind.rawValue) ends with \(out.channels)x\(out.height)x\(out.width) = \(out.count) values, not its \(head.kind.outputs) outputs")
            }
        }
        return Plan(trunkOutput: trunk, parameters: parameters, activations: activations)
    }

    /// Shapes and sizes of a spec for one input shape.
    public struct Plan: Sendable, Equatable {
        /// The trunk's output shape (the heads' input).
        public var trunkOutput: ActivationShape
        /// Learnable values in all layers.
        public var parameters: Int
        /// Activation values of one example across all layers.
        public var activations: Int
    }
}

/// A fixed input scaling: pixel p (0...255) becomes (p / 255 - mean) / std.
/// JSON: `{"mean": 0.25, "std": 0.25}`.
public struct FixedNormalization: Codable, Sendable, Equatable {
    /// Subtracted from p / 255.
    public var mean: Float
    /// Divides the difference; positive.
    public var std: Float

    /// Creates a scaling.
    public init(mean: Float, std: Float) {
        self.mean = mean
        self.std = std
    }

    /// The network input for pixel `p`.
    @inline(__always) public func callAsFunction(_ p: UInt8) -> Float { (Float(p) / 255 - mean) / std }
}

/// The settings of a local response normalisation layer (TensorFlow's `lrn`); the defaults are
/// the paper's (TensorFlow CIFAR-10's).
public struct LRNSettings: Codable, Sendable, Equatable {
    /// Channels each side in the window.
    public var radius = 4
    /// Added to the window's scaled sum of squares.
    public var bias: Float = 1
    /// Scale of the sum of squares.
    public var alpha: Float = 0.001 / 9
    /// Exponent.
    public var beta: Float = 0.75

    /// The paper's settings.
    public init() {}
}

/// One layer of a spec. JSON: an object with `type` and the type's settings; `kernel`, `window`
/// and `stride` are `[rows, columns]` or one number for both.
public enum LayerSpec: Sendable, Equatable {
    /// `{"type": "convolution", "filters": F, "kernel": [kh, kw], "stride": [sh, sw] (default 1), "padding": "same"|"valid"|[rows, columns] (default same), "name": optional}`.
    case convolution(filters: Int, kernel: (Int, Int), stride: (Int, Int), padding: Padding2D, name: String?)
    /// `{"type": "relu"}`.
    case relu
    /// `{"type": "maxPool", "window": [h, w], "stride": [sh, sw] (default: the window), "padding": "same"|"valid"|[rows, columns] (default same)}`.
    case maxPool(window: (Int, Int), stride: (Int, Int), padding: Padding2D)
    /// `{"type": "lrn", "radius": 4, "bias": 1, "alpha": 0.000111, "beta": 0.75}` (each optional).
    case localResponseNorm(LRNSettings)
    /// `{"type": "dense", "units": U, "name": optional}`: fully connected over the flattened input.
    case dense(units: Int, name: String?)
    /// `{"type": "flatten"}`: C x H x W becomes (C H W) x 1 x 1 (the values do not move).
    case flatten
    /// `{"type": "flipRows"}`: row r becomes row H - 1 - r. Thumbnails have the highest frequency
    /// on top; flipped, row k of a per-key picture is key 21 + k, the order of the key heads' outputs.
    case flipRows
    /// `{"type": "rowShifts", "shifts": [s1, s2, ...]}`: C x H x W becomes (C S) x H x W, channel
    /// c S + i holding channel c moved up by `shifts[i]` rows (output row r = input row r + s_i,
    /// zero where that is outside). On rows one semitone apart, shifts of 12, 19, 24, 28, 31, 34
    /// semitones (harmonics 2-7, rounded) stack each key's harmonics as channels: basic-pitch's
    /// harmonic stacking.
    case rowShifts([Int])

    /// The `type` values.
    public static let typeNames = ["convolution", "relu", "maxPool", "lrn", "dense", "flatten", "flipRows", "rowShifts"]

    /// The JSON `type`.
    public var type: String {
        switch self {
        case .convolution: "convolution"
        case .relu: "relu"
        case .maxPool: "maxPool"
        case .localResponseNorm: "lrn"
        case .dense: "dense"
        case .flatten: "flatten"
        case .flipRows: "flipRows"
        case .rowShifts: "rowShifts"
        }
    }

    /// Whether the layer has weights.
    public var learns: Bool {
        switch self {
        case .convolution, .dense: true
        default: false
        }
    }

    public static func == (a: LayerSpec, b: LayerSpec) -> Bool {
        switch (a, b) {
        case let (.convolution(f1, k1, s1, p1, n1), .convolution(f2, k2, s2, p2, n2)): f1 == f2 && k1 == k2 && s1 == s2 && p1 == p2 && n1 == n2
        case (.relu, .relu), (.flatten, .flatten), (.flipRows, .flipRows): true
        case let (.maxPool(w1, s1, p1), .maxPool(w2, s2, p2)): w1 == w2 && s1 == s2 && p1 == p2
        case let (.localResponseNorm(l1), .localResponseNorm(l2)): l1 == l2
        case let (.dense(u1, n1), .dense(u2, n2)): u1 == u2 && n1 == n2
        case let (.rowShifts(a), .rowShifts(b)): a == b
        default: false
        }
    }

    /// The output shape for `input` and the layer's parameter count; `place` names the layer in errors.
    func outputShape(for input: ActivationShape, where place: String) throws -> (ActivationShape, Int) {
        func fail(_ what: String) -> FormatError { FormatError("\(place): \(what)") }
        func window(_ size: (Int, Int), _ stride: (Int, Int), _ padding: Padding2D, _ what: String) throws -> (Int, Int) {
            guard size.0 > 0, size.1 > 0, stride.0 > 0, stride.1 > 0, size.0 <= 1024, size.1 <= 1024, stride.0 <= 1024, stride.1 <= 1024 else {
                throw fail("\(what) \(size.0)x\(size.1) and stride \(stride.0)x\(stride.1) must be in 1...1024")
            }
            guard let rows = padding.rows.axis(input: input.height, window: size.0, stride: stride.0),
                  let cols = padding.columns.axis(input: input.width, window: size.1, stride: stride.1) else {
                throw fail("a \(size.0)x\(size.1) \(what) does not fit a \(input.height)x\(input.width) input with \(padding) padding")
            }
            return (rows.output, cols.output)
        }
        switch self {
        case let .convolution(filters, kernel, stride, padding, _):
            guard (1 ... 65536).contains(filters) else { throw fail("\(filters) filters is not in 1...65536") }
            let (h, w) = try window(kernel, stride, padding, "kernel")
            let (weights, overflow) = (filters * input.channels).multipliedReportingOverflow(by: kernel.0 * kernel.1)
            guard !overflow, weights <= NetworkSpec.maximumParameters else { throw fail("more than \(NetworkSpec.maximumParameters) weights") }
            return (ActivationShape(channels: filters, height: h, width: w), weights + filters)
        case .relu, .localResponseNorm, .flipRows:
            if case let .localResponseNorm(s) = self {
                guard (0 ... 1024).contains(s.radius), s.bias.isFinite, s.alpha.isFinite, s.beta.isFinite, s.bias > 0 else {
                    throw fail("radius \(s.radius), bias \(s.bias), alpha \(s.alpha), beta \(s.beta) are not usable LRN settings")
                }
            }
            return (input, 0)
        case let .maxPool(size, stride, padding):
            let (h, w) = try window(size, stride, padding, "window")
            return (ActivationShape(channels: input.channels, height: h, width: w), 0)
        case let .dense(units, _):
            guard (1 ... 1 << 20).contains(units) else { throw fail("\(units) units is not in 1...\(1 << 20)") }
            let (weights, overflow) = input.count.multipliedReportingOverflow(by: units)
            guard !overflow, weights <= NetworkSpec.maximumParameters else {
                throw fail("\(input.count) inputs x \(units) units is more than \(NetworkSpec.maximumParameters) weights")
            }
            return (ActivationShape(channels: units, height: 1, width: 1), weights + units)
        case .flatten:
            return (ActivationShape(channels: input.count, height: 1, width: 1), 0)
        case let .rowShifts(shifts):
            guard (1 ... 64).contains(shifts.count), shifts.allSatisfy({ abs($0) < 1024 }) else {
                throw fail("rowShifts needs 1...64 shifts, each of fewer than 1024 rows")
            }
            return (ActivationShape(channels: input.channels * shifts.count, height: input.height, width: input.width), 0)
        }
    }
}

extension LayerSpec: Codable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Settings each type accepts (besides `type`).
    private static let allowed: [String: Set<String>] = [
        "convolution": ["filters", "kernel", "stride", "padding", "name"], "relu": [], "maxPool": ["window", "stride", "padding"],
        "lrn": ["radius", "bias", "alpha", "beta"], "dense": ["units", "name"], "flatten": [], "flipRows": [],
        "rowShifts": ["shifts"],
    ]

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let type = try c.decode(String.self, forKey: Key("type"))
        guard let allowed = Self.allowed[type] else {
            throw FormatError("unknown layer type '\(type)' (one of \(Self.typeNames.joined(separator: ", ")))")
        }
        let unknown = c.allKeys.map(\.stringValue).filter { $0 != "type" && !allowed.contains($0) }
        guard unknown.isEmpty else { throw FormatError("layer type '\(type)' has no setting \(unknown.sorted().map { "'\($0)'" }.joined(separator: ", "))") }
        func pair(_ key: String) throws -> (Int, Int)? {
            guard c.contains(Key(key)) else { return nil }
            if let one = try? c.decode(Int.self, forKey: Key(key)) { return (one, one) }
            let two = try c.decode([Int].self, forKey: Key(key))
            guard two.count == 2 else { throw FormatError("layer type '\(type)': '\(key)' must be [rows, columns] or one number") }
            return (two[0], two[1])
        }
        let padding: Padding2D
        do { padding = try c.decodeIfPresent(Padding2D.self, forKey: Key("padding")) ?? .same } catch let error as FormatError {
            throw FormatError("layer type '\(type)': \(error.message)")
        }
        let name = try c.decodeIfPresent(String.self, forKey: Key("name"))
        switch type {
        case "convolution":
            guard let kernel = try pair("kernel") else { throw FormatError("a convolution needs 'kernel'") }
            self = .convolution(filters: try c.decode(Int.self, forKey: Key("filters")), kernel: kernel, stride: try pair("stride") ?? (1, 1), padding: padding, name: name)
        case "maxPool":
            guard let window = try pair("window") else { throw FormatError("a maxPool needs 'window'") }
            self = .maxPool(window: window, stride: try pair("stride") ?? window, padding: padding)
        case "lrn":
            var s = LRNSettings()
            s.radius = try c.decodeIfPresent(Int.self, forKey: Key("radius")) ?? s.radius
            s.bias = try c.decodeIfPresent(Float.self, forKey: Key("bias")) ?? s.bias
            s.alpha = try c.decodeIfPresent(Float.self, forKey: Key("alpha")) ?? s.alpha
            s.beta = try c.decodeIfPresent(Float.self, forKey: Key("beta")) ?? s.beta
            self = .localResponseNorm(s)
        case "dense": self = .dense(units: try c.decode(Int.self, forKey: Key("units")), name: name)
        case "relu": self = .relu
        case "flipRows": self = .flipRows
        case "rowShifts": self = .rowShifts(try c.decode([Int].self, forKey: Key("shifts")))
        default: self = .flatten
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(type, forKey: Key("type"))
        switch self {
        case let .convolution(filters, kernel, stride, padding, name):
            try c.encode(filters, forKey: Key("filters"))
            try c.encode([kernel.0, kernel.1], forKey: Key("kernel"))
            try c.encode([stride.0, stride.1], forKey: Key("stride"))
            try c.encode(padding, forKey: Key("padding"))
            try c.encodeIfPresent(name, forKey: Key("name"))
        case let .maxPool(window, stride, padding):
            try c.encode([window.0, window.1], forKey: Key("window"))
            try c.encode([stride.0, stride.1], forKey: Key("stride"))
            try c.encode(padding, forKey: Key("padding"))
        case let .localResponseNorm(s):
            try c.encode(s.radius, forKey: Key("radius"))
            try c.encode(s.bias, forKey: Key("bias"))
            try c.encode(s.alpha, forKey: Key("alpha"))
            try c.encode(s.beta, forKey: Key("beta"))
        case let .dense(units, name):
            try c.encode(units, forKey: Key("units"))
            try c.encodeIfPresent(name, forKey: Key("name"))
        case let .rowShifts(shifts): try c.encode(shifts, forKey: Key("shifts"))
        case .relu, .flatten, .flipRows: break
        }
    }
}

/// One output head of a spec. JSON: `{"kind": "frame", "weight": 1, "name": optional, "layers": optional}`.
/// Without `layers` the head is one dense layer from the flattened trunk output to its outputs;
/// with them, its layers must end with exactly the head's output count of values (e.g. a 1x1
/// convolution with one filter over 88 key rows).
public struct HeadSpec: Codable, Sendable, Equatable {
    /// What the head predicts.
    public var kind: HeadKind
    /// Its loss's weight in the total loss.
    public var weight: Double
    /// Tensor-name prefix (see `NetworkSpec.prefix(of:)`).
    public var name: String?
    /// Its own layers after the trunk; nil: one dense layer.
    public var layers: [LayerSpec]?
    /// Key heads: the weight of the positive term of the cross-entropy (nil: 1). Onsets are rare
    /// (a key starts at about one step in a hundred it sounds at), so an onset head learns to
    /// say "no" everywhere unless its positives weigh more.
    public var positiveWeight: Double?

    /// Creates a head.
    public init(kind: HeadKind, weight: Double = 1, name: String? = nil, layers: [LayerSpec]? = nil, positiveWeight: Double? = nil) {
        self.kind = kind
        self.weight = weight
        self.name = name
        self.layers = layers
        self.positiveWeight = positiveWeight
    }

    /// The head's rule, with its positive weight.
    public var rule: any HeadRule {
        guard kind != .single, let positiveWeight else { return kind.rule }
        return KeySetRule(kind: kind, positiveWeight: positiveWeight)
    }

    /// The layers the head builds: its own, or one dense layer of its output size.
    public var layersOrDefault: [LayerSpec] { layers ?? [.dense(units: kind.outputs, name: nil)] }

    private enum CodingKeys: String, CodingKey { case kind, weight, name, layers, positiveWeight }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kindName = try c.decode(String.self, forKey: .kind)
        guard let kind = HeadKind(rawValue: kindName) else {
            throw FormatError("unknown head kind '\(kindName)' (one of \(HeadKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self.kind = kind
        weight = try c.decodeIfPresent(Double.self, forKey: .weight) ?? 1
        name = try c.decodeIfPresent(String.self, forKey: .name)
        layers = try c.decodeIfPresent([LayerSpec].self, forKey: .layers)
        positiveWeight = try c.decodeIfPresent(Double.self, forKey: .positiveWeight)
        if let positiveWeight, !(positiveWeight > 0 && positiveWeight <= 1000) {
            throw FormatError("head \(kind.rawValue): positiveWeight \(positiveWeight) is not in (0, 1000]")
        }
        if positiveWeight != nil, kind == .single { throw FormatError("head single: positiveWeight applies to key heads only") }
    }
}
