// The safetensors reader (Formats/Safetensors.swift), the one ldae uses for zoo weights, exports and checkpoints:
// header length, JSON header, dtypes, shapes and data offsets; then what ZooModel does with the tensors
// (`LDAEModel.load`: every tensor of the model present with its shape and finite values).
import Foundation
import FuzzSupport
import Ldae

nonisolated(unsafe) let model = try! LDAEModel(config: Fuzz.tinyModel, seed: 0, plan: ExecutionPlan(threads: 1))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = Fuzz.write(Fuzz.bytes(data, size), to: "weights.safetensors")
    Fuzz.expectNamedError {
        let (tensors, order, meta) = try Safetensors.read(path)
        precondition(order.count == tensors.count && Set(order) == Set(tensors.keys), "order does not list the tensors")
        for (name, t) in tensors {
            precondition(t.name == name && Checked.count(t.shape) == t.values.count, "tensor \(name): shape and values disagree")
        }
        try Fuzz.naming(path) { try model.load(tensors) }
        _ = meta
    }
    return 0
}

@_cdecl("fuzz_safetensors_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv, fuzz)
}
