import Foundation

/// Fixed 2-D sin-cos positional embedding, exactly MAE's get_2d_sincos_pos_embed(embed_dim, grid_size)
/// (without cls token): token m = i * grid + j (row i, column j) gets
/// [1-D(dim/2, pos = j) | 1-D(dim/2, pos = i)], 1-D(E, pos) = [sin(pos w_k) | cos(pos w_k)], w_k = 10000^(-k/(E/2)).
public enum SinCosPosEmbed {
    public static func make(dim: Int, grid: Int) -> [Float] {
        require(dim % 4 == 0)
        let half = dim / 2, quarter = dim / 4
        var out = [Float](repeating: 0, count: grid * grid * dim)
        for i in 0..<grid {
            for j in 0..<grid {
                let m = i * grid + j
                for (part, pos) in [(0, Double(j)), (1, Double(i))] {
                    for k in 0..<quarter {
                        let omega = 1 / pow(10000.0, Double(k) / Double(quarter))
                        out[m * dim + part * half + k] = Float(sin(pos * omega))
                        out[m * dim + part * half + quarter + k] = Float(cos(pos * omega))
                    }
                }
            }
        }
        return out
    }
}
