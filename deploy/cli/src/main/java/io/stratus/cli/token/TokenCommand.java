package io.stratus.cli.token;

import io.stratus.cli.CliException;
import io.stratus.cli.Session;
import io.stratus.cli.output.Formats;
import io.stratus.cli.output.Output;
import io.stratus.cli.output.OutputFormat;
import io.stratus.cli.output.Table;
import io.stratus.proto.conductor.v1.CreateTokenRequest;
import io.stratus.proto.conductor.v1.CreateTokenResponse;
import io.stratus.proto.conductor.v1.ListTokensRequest;
import io.stratus.proto.conductor.v1.RevokeTokenRequest;
import io.stratus.proto.conductor.v1.TokenInfo;
import io.stratus.proto.conductor.v1.TokenRole;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code stratus token …}: the conductor's {@code Tokens} API (admin token). */
@Command(name = "token", description = "API tokens: issue, list, revoke; admin only.")
public final class TokenCommand {
  @Spec
  private CommandSpec spec;

  /** Issues a token and prints its secret once. */
  @Command(name = "create", description = "Issue a token for a project's user (the secret "
      + "is printed once).")
  int create(
      @Option(names = "--project", required = true, paramLabel = "PROJECT") String project,
      @Option(names = "--user", required = true, paramLabel = "USER") String user,
      @Option(names = "--role", defaultValue = "member", paramLabel = "member|admin")
          String role,
      @Option(names = "--expires-in", paramLabel = "DURATION",
          description = "e.g. 8h, 30d, 90m (default: no expiry)") String expiresIn,
      @Option(names = "--description", paramLabel = "TEXT", defaultValue = "") String about,
      @Mixin OutputFormat format) {
    Session session = Session.of(spec);
    CreateTokenResponse r = session.clients().tokens().createToken(CreateTokenRequest.newBuilder()
        .setProjectId(project).setUserId(user).setRole(role(role))
        .setTtlSeconds(seconds(expiresIn)).setDescription(about).build());
    new Output(session.terminal().out(), format).print(r, TokenCommand::issued);
    return 0;
  }

  /** Lists tokens, newest first, without their secrets. */
  @Command(name = "list", description = "List tokens (never their secrets).")
  int list(
      @Option(names = "--project", paramLabel = "PROJECT", defaultValue = "") String project,
      @Option(names = "--all", description = "Revoked tokens too.") boolean all,
      @Mixin OutputFormat format) {
    Session session = Session.of(spec);
    List<TokenInfo> tokens = session.clients().tokens().listTokens(ListTokensRequest.newBuilder()
        .setProjectId(project).setIncludeRevoked(all).build()).getTokensList();
    new Output(session.terminal().out(), format).printList(tokens, TokenCommand::table);
    return 0;
  }

  /** Revokes a token at once. */
  @Command(name = "revoke", description = "Revoke a token at once.")
  int revoke(@Parameters(paramLabel = "TOKEN_ID") String id, @Mixin OutputFormat format) {
    Session session = Session.of(spec);
    TokenInfo info = session.clients().tokens().revokeToken(RevokeTokenRequest.newBuilder()
        .setTokenId(id).build()).getInfo();
    new Output(session.terminal().out(), format).print(info, TokenCommand::fields);
    return 0;
  }

  private static TokenRole role(String role) {
    return switch (role.toLowerCase(Locale.ROOT)) {
      case "member" -> TokenRole.TOKEN_ROLE_MEMBER;
      case "admin" -> TokenRole.TOKEN_ROLE_ADMIN;
      default -> throw CliException.usage("--role must be member or admin, got '" + role + "'");
    };
  }

  /** {@code 90m}, {@code 8h}, {@code 30d}, or an ISO-8601 duration. */
  static long seconds(String text) {
    if (text == null || text.isBlank()) {
      return 0;
    }
    String t = text.trim().toLowerCase(Locale.ROOT);
    try {
      if (t.matches("\\d+[smhd]")) {
        long n = Long.parseLong(t.substring(0, t.length() - 1));
        return switch (t.charAt(t.length() - 1)) {
          case 's' -> n;
          case 'm' -> n * 60;
          case 'h' -> n * 3600;
          default -> n * 86400;
        };
      }
      return Duration.parse(text.trim().toUpperCase(Locale.ROOT)).toSeconds();
    } catch (NumberFormatException | DateTimeParseException e) {
      throw CliException.usage("--expires-in must be like 90m, 8h, 30d or PT8H, got '" + text
          + "'");
    }
  }

  static Table issued(CreateTokenResponse r) {
    return fields(r.getInfo()).row("token", r.getToken() + "   (shown once: keep it now)");
  }

  static Table fields(TokenInfo t) {
    return Table.fields().row("id", t.getId()).row("project", t.getProjectId())
        .row("user", t.getUserId()).row("role", roleName(t.getRole()))
        .row("description", t.getDescription()).row("created_by", t.getCreatedBy())
        .row("created_at", Formats.time(t.getCreatedAt()))
        .row("expires_at", t.hasExpiresAt() ? Formats.time(t.getExpiresAt()) : "never")
        .row("revoked_at", Formats.time(t.getRevokedAt()));
  }

  static Table table(List<TokenInfo> tokens) {
    Table t = Table.columns("ID", "Project", "User", "Role", "Expires", "Revoked",
        "Description");
    for (TokenInfo i : tokens) {
      t.row(i.getId(), i.getProjectId(), i.getUserId(), roleName(i.getRole()),
          i.hasExpiresAt() ? Formats.time(i.getExpiresAt()) : "never",
          Formats.time(i.getRevokedAt()), i.getDescription());
    }
    return t;
  }

  private static String roleName(TokenRole r) {
    return r == TokenRole.TOKEN_ROLE_ADMIN ? "admin" : "member";
  }
}
