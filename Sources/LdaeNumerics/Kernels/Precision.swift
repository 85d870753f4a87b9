/// The number format of the linear layers' matrix products (`--precision`), part of the `ExecutionPlan`.
///
/// bf16: the forward product and both backward products of every linear layer, and attention's products (Q K^T,
/// P V and the four of its backward), take bf16 inputs with fp32 accumulation (`GEMMKernel.bf16`, AVX512-BF16); the
/// master weights, AdamW's moments, LayerNorm, softmax and its backward, GELU, the bias gradients and every other
/// reduction stay fp32, as do the activations between layers. fp32: every product in fp32.
public enum Precision: String, MethodOption {
    case fp32
    case bf16
    /// bf16 where the CPU has AVX512-BF16 (and the fast kernels are on), otherwise fp32.
    case auto

    /// What a request runs as on a CPU that has (`bf16Supported`) or lacks the bf16 kernels: .fp32 or .bf16, never
    /// .auto. bf16 asked for where it cannot run is an error naming why (`why`: e.g. the CPU lacks AVX512-BF16), never a
    /// silent fallback.
    public static func resolve(_ requested: Precision, bf16Supported: Bool, why: String = "this CPU has no AVX512-BF16") throws -> Precision {
        switch requested {
        case .fp32: return .fp32
        case .auto: return bf16Supported ? .bf16 : .fp32
        case .bf16:
            guard bf16Supported else {
                throw LdaeError("--precision bf16 needs ldae's AVX512-BF16 kernels, but \(why); use --precision fp32 (or auto: bf16 where the CPU has it)")
            }
            return .bf16
        }
    }

    /// The request resolved for this machine and a plan's kernel choice (`ExecutionPlan.fastKernels`).
    public static func resolve(_ requested: Precision, fastKernels: Bool) throws -> Precision {
        if !fastKernels {
            return try resolve(requested, bf16Supported: false, why: "--portable-kernels runs the portable fp32 kernels")
        }
        if GEMMKernel.bf16.available || requested != .bf16 { return try resolve(requested, bf16Supported: GEMMKernel.bf16.available) }
        let cpu = SystemInfo.cpuModel.map { " (\($0))" } ?? ""
        return try resolve(requested, bf16Supported: false, why: "this CPU\(cpu) has no AVX512-BF16")
    }

    /// The words of records (checkpoint metadata, manifest, card): "fp32" or "bf16".
    public var summary: String {
        switch self {
        case .fp32: return "fp32 matrix products"
        case .bf16: return "bf16 matrix products (fp32 accumulation; fp32 master weights, optimizer, norms, softmax and reductions)"
        case .auto: return "auto"
        }
    }
}
