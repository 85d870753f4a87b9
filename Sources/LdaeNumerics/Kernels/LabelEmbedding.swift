// Class conditioning (DiT's LabelEmbedder): one learned row per class plus a null row, added to the adaLN
// conditioning c. Labels arrive as floats (exact small integers) in the conditioning buffers.

public enum LabelEmbedding {
    /// c[b, :] += table[y_b, :]    table [classes + 1, C] (row `classes` is the null label), labels [B] in 0...classes.
    public static func forward(c: UnsafeMutablePointer<Float>, table: UnsafePointer<Float>, labels: UnsafePointer<Float>,
                               b: Int, c width: Int, classes: Int) {
        for i in 0..<b {
            let y = Int(labels[i])
            require(y >= 0 && y <= classes, "label \(y) outside 0...\(classes)")
            let row = table + y * width, out = c + i * width
            for j in 0..<width { out[j] += row[j] }
        }
    }

    /// dtable[y_b, :] += dc[b, :]   (adds into the gradient, like every backward)
    public static func backward(dtable: UnsafeMutablePointer<Float>, dc: UnsafePointer<Float>, labels: UnsafePointer<Float>,
                                b: Int, c width: Int, classes: Int) {
        for i in 0..<b {
            let y = Int(labels[i])
            require(y >= 0 && y <= classes, "label \(y) outside 0...\(classes)")
            let row = dtable + y * width, d = dc + i * width
            for j in 0..<width { row[j] += d[j] }
        }
    }
}
