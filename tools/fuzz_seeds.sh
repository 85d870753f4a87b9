#!/usr/bin/env bash
# Recreates the fuzz targets' seed corpora, Fuzz/corpus/TARGET (committed; docs/fuzzing.md): the decoder fixtures
# of Tests/LdaeTests/Fixtures, and small files written by the library itself (weights and a checkpoint of a tiny
# model, .npy files, index.json with the committed zoo's manifests and evals.jsonl lines, a shard, pca.h5, a PCA
# part, tokenizer files of each kind), each HDF5 file also as an H5Layout. Deterministic: rerunning gives the
# same files. The generator is the fuzz package's fuzz-seeds (Fuzz/Sources/fuzz-seeds/Seeds.swift).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/fuzz build
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 .build-fuzz/debug/fuzz-seeds . Fuzz/corpus
