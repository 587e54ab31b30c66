/// The toolkit as a whole.
public enum Toolkit {
    /// The version every executable prints for `--version` and `train` writes into model metadata
    /// (`toolkitVersion`, Schemas/model.md). Defined here only.
    public static let version = "0.2.0"
}
