import ArgumentParser

@main
struct Roster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roster",
        abstract: "Roster: a SCIM 2.0 provisioning service on PostgreSQL.",
        subcommands: [
            Serve.self, Dev.self, Migrate.self, TenantCommand.self, TokenCommand.self, AdminKeyCommand.self, AdminUserCommand.self,
            AuthCommand.self, WebhookCommand.self, SecretsCommand.self, Healthcheck.self,
        ]
    )
}
