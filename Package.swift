// swift-tools-version: 6.1
import PackageDescription

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
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        .target(name: "SCIM"),
        .target(
            name: "RosterStore",
            dependencies: [
                "SCIM",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Migrations")]
        ),
        .target(
            name: "RosterServer",
            dependencies: [
                "SCIM",
                "RosterStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Configuration", package: "swift-configuration"),
            ],
            resources: [.copy("Schemas")]
        ),
        .executableTarget(
            name: "roster",
            dependencies: [
                "RosterServer",
                "RosterStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "RosterTestSupport",
            dependencies: ["RosterStore", .product(name: "PostgresNIO", package: "postgres-nio")]
        ),
        .testTarget(name: "SCIMTests", dependencies: ["SCIM"]),
        .testTarget(name: "RosterStoreTests", dependencies: ["RosterStore", "RosterTestSupport"]),
        .testTarget(
            name: "RosterServerTests",
            dependencies: [
                "RosterServer",
                "RosterTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ]
)
