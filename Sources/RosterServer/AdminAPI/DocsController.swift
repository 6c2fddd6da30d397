import Foundation
import Hummingbird

/// `/api/docs`: the interactive reference, rendered in the browser from /api/v1/openapi.json by our own
/// page, script and stylesheet; the CSP lets it load nothing from anywhere else, so it works offline.
struct DocsController {
    struct Asset: Sendable {
        let body: ByteBuffer
        let contentType: String
    }

    let page: Asset
    let script: Asset
    let stylesheet: Asset

    init() throws {
        func load(_ name: String, _ type: String, _ contentType: String) throws -> Asset {
            guard let url = Bundle.module.url(forResource: name, withExtension: type, subdirectory: "Docs") else {
                throw APIDocument.LoadError(description: "Docs/\(name).\(type) is missing from this build.")
            }
            return Asset(body: ByteBuffer(bytes: try Data(contentsOf: url)), contentType: contentType)
        }
        page = try load("index", "html", "text/html; charset=utf-8")
        script = try load("docs", "js", "text/javascript; charset=utf-8")
        stylesheet = try load("docs", "css", "text/css; charset=utf-8")
    }

    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        for (path, asset) in [("api/docs", page), ("api/docs/docs.js", script), ("api/docs/docs.css", stylesheet)] {
            router.get(RouterPath(path)) { _, _ in
                Response(
                    status: .ok,
                    headers: [
                        .contentType: asset.contentType, .contentSecurityPolicy: Self.contentSecurityPolicy,
                        .xContentTypeOptions: "nosniff", .cacheControl: "no-cache",
                    ],
                    body: .init(byteBuffer: asset.body))
            }
        }
    }
}
