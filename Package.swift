// swift-tools-version: 6.1
import PackageDescription

/// Every target: an import is internal unless marked `public import` (so a dependency's types reach another module
/// only where a public declaration needs them), members are visible only from modules a file imports itself, and
/// an existential says `any`. Hummingbird builds with the same three.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "roster",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "roster", targets: ["roster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // Already resolved through async-http-client; RosterOutbound names its types (deadlines, socket errors).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // Already resolved through Hummingbird; the server and its tests name HTTPResponse.Status and header fields.
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        .target(name: "SCIM", swiftSettings: strict),
        // The one outbound policy (address checks, connecting only to checked addresses) that webhooks
        // (RosterFeed) and JWKS fetches (RosterAuth) share; it knows nothing of Roster's other modules.
        .target(
            name: "RosterOutbound",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // A throwaway PostgreSQL cluster (initdb, start, stop) for `roster dev` and the tests; the server never uses it.
        .target(
            name: "RosterEmbeddedPostgres",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(
            name: "RosterStore",
            dependencies: [
                "SCIM",
                // The identity model (scopes, grants, principals, secrets) it persists; RosterAuth never sees SQL.
                "RosterAuth",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // The pool's own error type (ConnectionPoolError), to tell "no connection" apart by type.
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            resources: [.copy("Migrations")],
            swiftSettings: strict
        ),
        .target(
            name: "RosterFeed",
            dependencies: [
                "SCIM",
                "RosterStore",
                "RosterOutbound",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "RosterAuth",
            dependencies: [
                "SCIM",
                "RosterOutbound",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "RosterServer",
            dependencies: [
                "SCIM",
                "RosterStore",
                "RosterFeed",
                "RosterAuth",
                "RosterOutbound",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // openapi.yaml is both the generator's input and the document served at /api/v1/openapi.*.
            // Console holds the setup portal's and console's files, idp-guides.json among them.
            resources: [.copy("Schemas"), .copy("openapi.yaml"), .copy("Docs"), .copy("Console")],
            swiftSettings: strict,
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        .executableTarget(
            name: "roster",
            dependencies: [
                "RosterServer",
                "RosterEmbeddedPostgres",
                "RosterFeed",
                "RosterStore",
                "RosterAuth",
                "RosterOutbound",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "RosterTestSupport",
            dependencies: [
                "RosterEmbeddedPostgres",
                "RosterStore",
                "SCIM",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // A JWKS endpoint and hand-signed JWTs for the admin-identity tests.
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "SCIMTests", dependencies: ["SCIM"], swiftSettings: strict),
        .testTarget(
            name: "RosterStoreTests",
            dependencies: ["RosterStore", "RosterAuth", "RosterTestSupport", .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: strict),
        .testTarget(
            name: "RosterFeedTests", dependencies: ["RosterFeed", "RosterStore", "RosterOutbound", "RosterTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "RosterOutboundTests",
            dependencies: ["RosterOutbound", .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RosterAuthTests",
            dependencies: [
                "RosterAuth",
                "RosterOutbound",
                "RosterStore",
                "RosterTestSupport",
                "SCIM",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict
        ),
        // The command line, in process: its commands run against a real PostgreSQL with their output collected.
        .testTarget(
            name: "RosterCLITests",
            dependencies: [
                "roster", "RosterServer", "RosterStore", "RosterAuth", "RosterTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RosterServerTests",
            dependencies: [
                "RosterServer",
                "RosterFeed",
                "RosterOutbound",
                "RosterTestSupport",
                "RosterAuth",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
    ]
)
