import Foundation
import Hummingbird
@testable import RosterServer
import Testing

extension ServerSuite {
    @Suite("The /console admin console and the /setup portal")
    struct ConsolePageTests {
        @Test("the pages, scripts, stylesheet and guides are served without credentials, under the /api/docs CSP, nosniff, loading nothing from elsewhere")
        func served() async throws {
            let assets = try ConsoleController().assets
            #expect(assets.keys.contains("console.js") && assets.keys.contains("setup.js") && assets.keys.contains("console.css") && assets.keys.contains("idp-guides.json"))
            let pages = [("/console", "text/html"), ("/console/", "text/html"), ("/setup", "text/html")]
            let files = assets.map { name, asset in ("/console/\(name)", String(asset.contentType.prefix { $0 != ";" })) }
            try await Roster.run { roster in
                for (path, type) in pages + files {
                    let reply = try await roster.send(.get, path)
                    #expect(reply.status == .ok, "\(path)")
                    #expect(reply.headers[.contentType]?.hasPrefix(type) == true, "\(path): \(reply.headers[.contentType] ?? "none")")
                    #expect(reply.headers[.contentSecurityPolicy] == DocsController.contentSecurityPolicy, "\(path)")
                    #expect(reply.headers[.xContentTypeOptions] == "nosniff", "\(path)")
                    #expect(reply.headers[.referrerPolicy] == "no-referrer", "\(path)")
                    // Offline: no script, stylesheet, font, image or module from another origin. (The guides' data
                    // names the identity providers' documentation, shown as links: it is not loaded.)
                    if !path.hasSuffix(".json") {
                        #expect(reply.body.firstMatch(of: /https?:\/\/|(src|href)\s*=\s*["']?\/\/|@import|url\(\s*["']?\/\//) == nil, "\(path) names another origin")
                    }
                }
            }
        }

        @Test("each page loads its own script, and every module a script imports is served")
        func modulesResolve() async throws {
            let assets = try ConsoleController().assets
            try await Roster.run { roster in
                let console = try await roster.send(.get, "/console"), setup = try await roster.send(.get, "/setup")
                #expect(console.body.contains(#"src="/console/console.js""#))
                #expect(setup.body.contains(#"src="/console/setup.js""#))
                for (name, asset) in assets where name.hasSuffix(".js") {
                    let script = String(buffer: asset.body)
                    // Static imports (`from './x.js'`) and the router's page modules (`module: 'page-x.js'`).
                    for match in script.matches(of: /from '\.\/([a-z0-9-]+\.js)'|module: '([a-z0-9-]+\.js)'/) {
                        let imported = String(match.output.1 ?? match.output.2 ?? "")
                        #expect(assets[imported] != nil, "\(name) imports \(imported), which is not served")
                    }
                }
                let missing = try await roster.send(.get, "/console/no-such-file.js")
                #expect(missing.status == .notFound)
            }
        }

        @Test("the guides' data is JSON with at least the generic guide")
        func guides() async throws {
            try await Roster.run { roster in
                let reply = try await roster.send(.get, "/console/idp-guides.json")
                let document = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any]
                let ids = (document?["guides"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
                #expect(ids.contains("generic"))
            }
        }
    }
}
