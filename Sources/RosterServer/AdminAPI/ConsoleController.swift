import Foundation
import HTTPTypes
import Hummingbird

/// `/console` (the admin console) and `/setup` (the setup portal a customer's IT admin opens from a setup link):
/// Roster's own pages, scripts and stylesheet, read from the bundle once at start. Like `/api/docs`, the CSP lets
/// them load nothing from anywhere else, and they talk only to the documented API.
struct ConsoleController {
    typealias Asset = DocsController.Asset

    let console: Asset
    let setup: Asset
    /// The scripts, stylesheet and guide data under `/console/{asset}`, by file name: only these names answer.
    let assets: [String: Asset]

    init() throws {
        guard let folder = Bundle.module.url(forResource: "Console", withExtension: nil) else {
            throw APIDocument.LoadError(description: "Console/ is missing from this build.")
        }
        let types = ["js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "json": "application/json"]
        var assets: [String: Asset] = [:]
        for file in try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil) {
            guard let type = types[file.pathExtension] else { continue }
            assets[file.lastPathComponent] = Asset(body: ByteBuffer(bytes: try Data(contentsOf: file)), contentType: type)
        }
        func page(_ name: String) throws -> Asset {
            let url = folder.appending(path: name)
            guard let data = try? Data(contentsOf: url) else {
                throw APIDocument.LoadError(description: "Console/\(name) is missing from this build.")
            }
            return Asset(body: ByteBuffer(bytes: data), contentType: "text/html; charset=utf-8")
        }
        console = try page("index.html")
        setup = try page("setup.html")
        self.assets = assets
    }

    static func response(_ asset: Asset) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: asset.contentType, .contentSecurityPolicy: DocsController.contentSecurityPolicy,
                .xContentTypeOptions: "nosniff", .cacheControl: "no-cache",
                // The setup page's secret is in its fragment, which browsers never send; no Referer either, to be sure.
                .referrerPolicy: "no-referrer",
            ],
            body: .init(byteBuffer: asset.body))
    }

    func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        let console = console, setup = setup, assets = assets
        // The router ignores a trailing slash, so /console/ is this page too; its links are absolute, so both work.
        router.get("console") { _, _ in Self.response(console) }
        router.get("setup") { _, _ in Self.response(setup) }
        router.get("console/{asset}") { _, context in
            guard let asset = context.parameters.get("asset").flatMap({ assets[$0] }) else {
                throw HTTPError(.notFound, message: "No such console file.")
            }
            return Self.response(asset)
        }
    }
}

extension HTTPField.Name {
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
}
