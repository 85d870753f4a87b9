// swift-tools-version: 6.0
// ldae's libFuzzer targets (docs/fuzzing.md): a package of its own so that the main build never compiles them.
// Built only with the fuzzer and AddressSanitizer (tools/fuzz does it):
//   swift build --package-path Fuzz --scratch-path .build-fuzz -c debug --product fuzz-npy \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -O -Xcc -fsanitize=fuzzer-no-link,address
import PackageDescription

let targets = ["safetensors", "npy", "json", "image", "shard", "pca", "tokenizer", "checkpoint"]

let package = Package(
    name: "ldae-fuzz",
    products: (targets + ["seeds"]).map { .executable(name: "fuzz-\($0)", targets: ["fuzz-\($0)"]) },
    dependencies: [.package(name: "ldae", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "Ldae", package: "ldae")]),
        // Writes Fuzz/corpus (tools/fuzz_seeds.sh).
        .executableTarget(name: "fuzz-seeds", dependencies: ["FuzzSupport", .product(name: "Ldae", package: "ldae")]),
    ] + targets.map {
        .executableTarget(name: "fuzz-\($0)", dependencies: ["FuzzSupport", .product(name: "Ldae", package: "ldae")])
    }
)
