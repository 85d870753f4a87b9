// `Checkpoint.load` (Ldae/Formats/Checkpoint.swift), as `ldae-train --resume` calls it: the safetensors file, its
// metadata (format, version, integers, the model and training configs as JSON), every slot of the model present with
// its shape, optional EMA. The slots are those of a real model (`Fuzz.tinyModel`), as the trainer builds them.
import Foundation
import FuzzSupport
import Ldae

nonisolated(unsafe) let model = try! LDAEModel(config: Fuzz.tinyModel, seed: 0, plan: ExecutionPlan(threads: 1))
let slots = model.tensors.map { Checkpoint.Slot(name: $0.name, shape: $0.shape, offset: $0.offset, count: $0.count) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = Fuzz.write(Fuzz.bytes(data, size), to: Checkpoint.fileName)
    Fuzz.expectNamedError {
        let ck = try Checkpoint.load(path, slots: slots, parameterCount: model.parameterCount)
        let n = model.parameterCount
        precondition(ck.params.count == n && ck.adamM.count == n && ck.adamV.count == n && (ck.ema?.count ?? n) == n,
                     "checkpoint buffers of the wrong size")
        // what the trainer does next (Trainer.restore): the weights into the model
        model.params.update(from: ck.params, count: n)
    }
    return 0
}

@_cdecl("fuzz_checkpoint_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    Fuzz.main(argc, argv, fuzz)
}
