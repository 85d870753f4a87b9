import Foundation
import XCTest
@testable import Ldae

/// ImageGrid (used by the PCA figures and the zoo's denoising figure) and the PCA figures themselves.
final class PCAFigureTests: XCTestCase {
    static func decodePNG(_ path: String) throws -> DecodedImage {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try data.withUnsafeBytes { try Codecs.decode($0, format: .png) }
    }

    func testGridPlacesUpscaledTilesWithPaddingAndWritesPNG() throws {
        // 1 x 2 grid of 2 x 2 tiles, scale 3, padding 1: width 2*6 + 3 = 15, height 6 + 2 = 8.
        var grid = ImageGrid(rows: 1, cols: 2, tileWidth: 2, tileHeight: 2, scale: 3, padding: 1, background: (9, 9, 9))
        XCTAssertEqual(grid.width, 15); XCTAssertEqual(grid.height, 8)
        let tile: [UInt8] = [255, 0, 0,   0, 255, 0,
                             0, 0, 255,   10, 20, 30]
        grid.place(row: 0, col: 1, rgb: tile, width: 2, height: 2)
        grid.place(row: 0, col: 0, scaled: [-1, 1, 0, 1], width: 2, height: 2, channels: 1)   // gray
        func px(_ x: Int, _ y: Int) -> [UInt8] { Array(grid.pixels[((y * 15 + x) * 3)..<((y * 15 + x) * 3 + 3)]) }
        XCTAssertEqual(px(0, 0), [9, 9, 9])                   // padding
        XCTAssertEqual(px(7, 1), [9, 9, 9])                   // padding between the cells
        // cell 1 starts at x = 1 + 6 + 1 = 8, y = 1; each source pixel is a 3 x 3 block
        XCTAssertEqual(px(8, 1), [255, 0, 0]); XCTAssertEqual(px(10, 3), [255, 0, 0])
        XCTAssertEqual(px(11, 1), [0, 255, 0]); XCTAssertEqual(px(13, 3), [0, 255, 0])
        XCTAssertEqual(px(8, 4), [0, 0, 255]); XCTAssertEqual(px(13, 6), [10, 20, 30])
        XCTAssertEqual(px(14, 7), [9, 9, 9])
        // cell 0: pixel-scaled gray -1 -> 0, 1 -> 255, 0 -> 128 (x/127.5 - 1 inverted and rounded)
        XCTAssertEqual(px(1, 1), [0, 0, 0]); XCTAssertEqual(px(4, 1), [255, 255, 255]); XCTAssertEqual(px(1, 4), [128, 128, 128])

        let path = TestSupport.tempDir() + "/grid.png"
        try grid.writePNG(path)
        let img = try Self.decodePNG(path)
        XCTAssertEqual(img.width, 15); XCTAssertEqual(img.height, 8)
        XCTAssertEqual(img.pixels, grid.pixels)
    }

    func testPatchifiedTilesMatchUnpatchifiedImages() {
        let g = PatchGeometry(imageSize: 4, patchSize: 2)
        var rng = RNG(seed: 1)
        let img = (0..<(4 * 4 * 3)).map { _ in UInt8(rng.below(256)) }
        var a = ImageGrid(rows: 1, cols: 2, tileWidth: 4, tileHeight: 4, scale: 2, padding: 1)
        var b = a
        a.place(row: 0, col: 0, patches: g.patchify(img), geometry: g)
        a.place(row: 0, col: 1, scaledPatches: g.patchify(img).map { PixelScaling.toFloat($0) }, geometry: g)
        b.place(row: 0, col: 0, rgb: img, width: 4, height: 4)
        b.place(row: 0, col: 1, rgb: img, width: 4, height: 4)
        XCTAssertEqual(a.pixels, b.pixels)
    }

    func testSmallTileIsCentredAndValueRangeMaps() {
        var grid = ImageGrid(rows: 1, cols: 1, tileWidth: 3, tileHeight: 3, scale: 1, padding: 0)
        grid.place(row: 0, col: 0, values: [-2, 0, 2], range: -2...2, width: 1, height: 1, channels: 3)
        // 1 x 1 tile centred in a 3 x 3 cell: pixel (1, 1)
        XCTAssertEqual(Array(grid.pixels[12..<15]), [0, 128, 255])
        XCTAssertEqual(Array(grid.pixels[0..<3]), [255, 255, 255])
        XCTAssertEqual(ImageGrid.upscale(tile: 4, target: 48), 12)
        XCTAssertEqual(ImageGrid.upscale(tile: 100, target: 48), 1)
    }

    func testPCAFiguresHaveExpectedLayoutAndFullReconstructionIsTheOriginal() throws {
        let dir = TestSupport.tempDir()
        let (set, images) = try TestSupport.randomShards(dir: dir, count: 12, seed: 3, imageSize: 8, patchSize: 2, perShard: 5)
        let b = try PCAStream.fit(set)
        XCTAssertEqual(PCAFigures.reconstructionDims(12), [4, 12])
        XCTAssertEqual(PCAFigures.reconstructionDims(768), [4, 16, 48])
        let eig = PCAFigures.eigenpatches(b)
        XCTAssertEqual(eig.rows * eig.cols >= 12, true); XCTAssertEqual(eig.cols, 8); XCTAssertEqual(eig.rows, 2)
        let imgs = try PCAFigures.sampleImages(set, count: 3)
        XCTAssertEqual(imgs.count, 3)
        XCTAssertEqual(imgs[1], set.geometry.patchify(images[4]))   // evenly spaced: 0, 4, 8
        let rec = PCAFigures.reconstructions(b, images: imgs, geometry: set.geometry, dims: [12])
        XCTAssertEqual(rec.rows, 3); XCTAssertEqual(rec.cols, 2)
        // With all D components the reconstruction cell equals the original cell.
        let s = rec.scale * 8
        for y in 0..<s { for x in 0..<s { for c in 0..<3 {
            let yy = rec.padding + y
            let o0 = (yy * rec.width + rec.padding + x) * 3 + c
            let o1 = (yy * rec.width + 2 * rec.padding + rec.cellWidth + x) * 3 + c
            XCTAssertEqual(rec.pixels[o0], rec.pixels[o1])
        } } }
        let paths = PCAFigures.figurePaths(for: "/tmp/x/my.basis.h5")
        XCTAssertEqual(paths.eigenpatches, "/tmp/x/my.basis-eigenpatches.png")
        XCTAssertEqual(paths.reconstructions, "/tmp/x/my.basis-reconstructions.png")
    }
}
