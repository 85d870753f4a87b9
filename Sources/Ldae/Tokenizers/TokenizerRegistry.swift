import Foundation

extension TrainableTokenizer {
    /// Loads weights saved by `exportTensors` (a checkpoint), checking every name and shape.
    public func importTensors(_ f: TokenizerFile) throws {
        for t in layout { (params + t.offset).update(from: try f.tensor(t.name, shape: t.shape), count: t.count) }
    }
}

/// One tokenizer kind that `ldae-fit-tokenizer` fits: how to make it trainable and how to read its file.
public protocol TokenizerDefinition: Sendable {
    var kind: TokenizerKind { get }
    /// Its `--help` line.
    var summary: String { get }
    /// Rescale the latent after fitting so that its summed variance equals the reconstruction's (as DiT's VAE scale
    /// factor); the linear kinds are normalised by their decoder's columns instead.
    var scalesLatent: Bool { get }
    func trainable(_ s: TokenizerFitSettings, geometry: PatchGeometry) throws -> any TrainableTokenizer
    /// The objective's view of a fitted file.
    func model(_ f: TokenizerFile) throws -> TokenizerModel
}

/// The fitted tokenizers, one line each (the DiT-style registry: adding a kind is its file, its test, its case of
/// `TokenizerKind` and its line here).
public enum TokenizerRegistry {
    static let definitions: [any TokenizerDefinition] = [
        PatchLinearDefinition(variational: false), PatchLinearDefinition(variational: true), ConvVAEDefinition(),
    ]

    public static func definition(_ kind: TokenizerKind) throws -> any TokenizerDefinition {
        guard let d = definitions.first(where: { $0.kind == kind }) else {
            throw LdaeError("no fitted tokenizer of kind '\(kind.rawValue)' (\(fittedChoices))")
        }
        return d
    }

    /// "patch-ae|patch-vae|conv-vae".
    public static var fittedChoices: String { definitions.map(\.kind.rawValue).joined(separator: "|") }

    /// Usage lines, one per kind.
    public static func usageLines(indent: String) -> String {
        definitions.map { indent + $0.kind.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0) + $0.summary }.joined(separator: "\n")
    }
}
