import Foundation

// The recommended readout in an export (issue 24): `ldae_features.py`, a small module written beside config.json and
// model.safetensors that gives a timm / PyTorch user an entry's recommended features in one call (and a classifier's
// logits), and the recipe it follows in config.json (`ldae_readout`) and in the card.

extension ZooExport {
    /// config.json's `ldae_readout`: the features `ldae-zoo features NAME` writes by default (manifest `features`).
    public struct Readout: Codable, Equatable, Sendable {
        /// "embed", "1".."depth", "final" (decoder layers are not in an export).
        public var layers: [String]
        public var pooling: String
        /// Cells per side of the token grid (mean 1, grid2 2, grid4 4).
        public var cells: Int
        public var flipTta: Bool
        /// Values per image.
        public var width: Int
        public var chosenBy: String
        /// Where: `ldae_features.ldae_features(model, x)`.
        public var function: String
    }

    /// config.json's `ldae_classifier` for a classifier entry.
    public struct ClassifierHead: Codable, Equatable, Sendable {
        /// "pooled": the model itself is timm's VisionTransformer(num_classes=C); "readout": the encoder, with the head
        /// in `head_file` applied to `ldae_readout`'s features by `ldae_features.ldae_logits`.
        public var head: String
        public var classes: Int
        public var labelNames: [String]
        public var headFile: String?
        public var function: String
    }

    public static let pythonFile = "ldae_features.py"
    public static let headFile = "ldae_head.safetensors"

    /// The readout of entry m: its recommended features (a classifier's: its head's input), never with decoder layers.
    public static func readout(_ m: Manifest) -> Readout {
        let f = m.features ?? Manifest.FeatureSpec(layers: [.final])
        let layers = f.layers.filter { !$0.isDecoder }.isEmpty ? [FeatureLayer.final] : f.layers.filter { !$0.isDecoder }
        let note = f.layers.contains(where: \.isDecoder) ? " (the recommended decoder layers are not in an export: final instead)" : ""
        return Readout(layers: layers.map(\.description), pooling: f.pooling.rawValue, cells: f.pooling.cells, flipTta: f.flipTTA ?? false,
                       width: f.pooling.width(of: layers, config: m.model), chosenBy: f.chosenBy + note, function: "ldae_features.ldae_features")
    }

    /// The module's text: the readout's defaults as constants, then the functions (torch and timm only).
    public static func python(_ m: Manifest, readout r: Readout, classifier c: ClassifierHead?) -> String {
        func list(_ s: [String]) -> String { "[" + s.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        return """
        \"\"\"The recommended features of ldae's \(m.name)@\(m.version), and its logits if it is a classifier, from timm in one call.

        Written by `ldae-zoo export` beside config.json and model.safetensors. Needs torch, timm and safetensors only:

            import sys; sys.path.insert(0, "EXPORT_FOLDER")
            from ldae_features import load_model, ldae_features, ldae_logits
            model = load_model("EXPORT_FOLDER")          # timm VisionTransformer, eval mode
            f = ldae_features(model, x)                  # x: [B, 3, \(m.model.imageSize), \(m.model.imageSize)] in [-1, 1] (pixels / 127.5 - 1)

        The features are what `ldae-zoo features` writes by default: the tokens after the layers below (embed: patch +
        position embedding; k: the residual stream after block k; final: after the last norm), each pooled (mean: all
        tokens; gridK: the mean of each cell of a K x K split of the token grid, row-major cells, cell j covering rows
        floor(j G / K) ..< floor((j + 1) G / K)), concatenated layer by layer (values: cell-major, then channel), and
        with flip_tta averaged with the mirror image's. Checked against ldae by tools/check_timm.py.
        \"\"\"
        import json
        import os

        import torch

        HERE = os.path.dirname(os.path.abspath(__file__))
        LAYERS = \(list(r.layers))
        POOLING = "\(r.pooling)"
        FLIP_TTA = \(r.flipTta ? "True" : "False")
        WIDTH = \(r.width)
        HEAD = \(c.map { "\"\($0.head)\"" } ?? "None")
        LABEL_NAMES = \(c.map { list($0.labelNames) } ?? "None")
        _CELLS = {"mean": 1, "grid2": 2, "grid4": 4}


        def load_model(folder=HERE):
            \"\"\"timm's VisionTransformer with config.json's model_args and model.safetensors (strict), in eval mode.\"\"\"
            from safetensors.torch import load_file
            from timm.models.vision_transformer import VisionTransformer
            with open(os.path.join(folder, "config.json")) as f:
                a = json.load(f)["model_args"]
            model = VisionTransformer(img_size=a["img_size"], patch_size=a["patch_size"], embed_dim=a["embed_dim"], depth=a["depth"],
                                      num_heads=a["num_heads"], mlp_ratio=a["mlp_ratio"], class_token=a["class_token"],
                                      global_pool=a["global_pool"], fc_norm=a["fc_norm"], num_classes=a["num_classes"])
            model.load_state_dict(load_file(os.path.join(folder, "model.safetensors")), strict=True)
            return model.eval()


        def _pool(tokens, cells):
            b, t, c = tokens.shape
            g = int(round(t ** 0.5))
            if cells == 1:
                return tokens.mean(dim=1)
            x = tokens.reshape(b, g, g, c)
            edge = [min(g, j * g // cells) for j in range(cells + 1)]
            out = []
            for cy in range(cells):
                for cx in range(cells):
                    cell = x[:, edge[cy]:edge[cy + 1], edge[cx]:edge[cx + 1], :]
                    out.append(cell.mean(dim=(1, 2)) if cell.numel() else tokens.new_zeros(b, c))
            return torch.cat(out, dim=1)


        def _taps(model, x, layers):
            \"\"\"The tokens [B, T, C] after each layer named, in one pass (the blocks above the highest are not run).\"\"\"
            depth = len(model.blocks)
            top = max(depth if l == "final" else 0 if l == "embed" else int(l) for l in layers)
            x = model.norm_pre(model.patch_drop(model._pos_embed(model.patch_embed(x))))
            out = {"embed": x}
            for i in range(top):
                x = model.blocks[i](x)
                out[str(i + 1)] = x
            if "final" in layers:
                out["final"] = model.norm(x)
            return out


        def ldae_features(model, x, layers=None, pooling=None, flip_tta=None):
            \"\"\"[B, WIDTH] features of x [B, 3, S, S] in [-1, 1]; the defaults are the entry's recommendation.\"\"\"
            layers = [str(l) for l in (LAYERS if layers is None else layers)]
            if any(l.startswith("dec") for l in layers):
                raise ValueError("decoder layers are not part of an export")
            cells = _CELLS[POOLING if pooling is None else pooling]
            flip = FLIP_TTA if flip_tta is None else flip_tta

            def one(img):
                t = _taps(model, img, layers)
                return torch.cat([_pool(t[l], cells) for l in layers], dim=1)

            f = one(x)
            if flip:
                f = 0.5 * (f + one(torch.flip(x, dims=[3])))
            return f


        def ldae_logits(model, x, folder=HERE):
            \"\"\"A classifier's logits [B, C] (label order LABEL_NAMES).\"\"\"
            if HEAD is None:
                raise ValueError("this export is an encoder, not a classifier")
            if HEAD == "pooled":
                return model(x)
            from safetensors.torch import load_file
            head = load_file(os.path.join(folder, "\(headFile)"))
            return ldae_features(model, x, flip_tta=False) @ head["weight"].T + head["bias"]

        """
    }
}
