package io.stratus.cli;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.stratus.cli.host.HostCommand;
import io.stratus.cli.token.TokenCommand;
import io.stratus.cli.image.ImageCommand;
import io.stratus.cli.server.ServerCommand;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.AutoComplete.GenerateCompletion;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;

/**
 * The operator CLI, {@code stratus}, named and shaped like the OpenStack client: {@code
 * stratus server list}, {@code stratus server image create --wait}, {@code stratus image
 * download}, {@code stratus host list}.
 *
 * <p>Results go to stdout as aligned tables or, with {@code -f json}, as one JSON document
 * of the API's messages. Failures are one line on stderr, {@code error: CODE: message},
 * with exit code 1 for a failed operation and 2 for a wrong command line or setting.
 */
@Command(
    name = "stratus",
    mixinStandardHelpOptions = true,
    scope = ScopeType.INHERIT,
    versionProvider = StratusCli.Version.class,
    usageHelpAutoWidth = true,
    sortOptions = false,
    description = {
        "Operator CLI for the Stratus conductor and image-gateway.",
        "Connection settings default to CONDUCTOR_ADDR, GATEWAY_ADDR, API_TOKEN, "
            + "STRATUS_CA_CERT, STRATUS_CLIENT_CERT and STRATUS_CLIENT_KEY "
            + "(source .aio/env after the all-in-one starts)."},
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
        "0:success",
        "1:the operation failed (API error, fault, bad download)",
        "2:wrong command line or missing setting"},
    subcommands = {
        ServerCommand.class,
        ImageCommand.class,
        HostCommand.class,
        TokenCommand.class,
        GenerateCompletion.class})
public final class StratusCli {
  /** grpc-java logs through java.util.logging; its warnings must not mix with our output. */
  private static final Logger GRPC_LOGS = Logger.getLogger("io.grpc");

  @Option(names = "--conductor", paramLabel = "HOST:PORT", scope = ScopeType.LOCAL,
      defaultValue = "${env:CONDUCTOR_ADDR}",
      description = "Conductor API address (default: $CONDUCTOR_ADDR).")
  private String conductorAddress;

  @Option(names = "--gateway", paramLabel = "HOST:PORT", scope = ScopeType.LOCAL,
      defaultValue = "${env:GATEWAY_ADDR}",
      description = "Image-gateway address (default: $GATEWAY_ADDR).")
  private String gatewayAddress;

  @Option(names = "--token", paramLabel = "TOKEN", scope = ScopeType.LOCAL,
      defaultValue = "${env:API_TOKEN}",
      description = "API token, sent as 'authorization: Bearer TOKEN' (default: $API_TOKEN).")
  private String token;

  @Option(names = "--ca-cert", paramLabel = "FILE", scope = ScopeType.LOCAL,
      defaultValue = "${env:STRATUS_CA_CERT}",
      description = "PEM of the CA that signs the services' certificates (default: "
          + "$STRATUS_CA_CERT).")
  private String caCert;

  @Option(names = "--client-cert", paramLabel = "FILE", scope = ScopeType.LOCAL,
      defaultValue = "${env:STRATUS_CLIENT_CERT}",
      description = "PEM of your client certificate; the image-gateway requires one "
          + "(default: $STRATUS_CLIENT_CERT).")
  private String clientCert;

  @Option(names = "--client-key", paramLabel = "FILE", scope = ScopeType.LOCAL,
      defaultValue = "${env:STRATUS_CLIENT_KEY}",
      description = "PEM (PKCS#8) of that certificate's key (default: $STRATUS_CLIENT_KEY).")
  private String clientKey;

  @Option(names = "--insecure", scope = ScopeType.LOCAL,
      defaultValue = "${env:STRATUS_INSECURE:-false}", fallbackValue = "true", arity = "0..1",
      description = "Plaintext, for services started with tls.insecure=true only "
          + "(default: $STRATUS_INSECURE).")
  private boolean insecure;

  private final Terminal terminal;
  private final ManagedChannel conductor;
  private final ManagedChannel gateway;
  private Session session;

  private StratusCli(Terminal terminal, ManagedChannel conductor, ManagedChannel gateway) {
    this.terminal = terminal;
    this.conductor = conductor;
    this.gateway = gateway;
  }

  /**
   * Runs {@code stratus}. The launcher sets {@code -Dstratus.stderr.tty=true} when stderr
   * is a terminal, which turns progress into a single redrawn line.
   */
  public static void main(String[] args) {
    GRPC_LOGS.setLevel(Level.OFF);
    Terminal terminal =
        new Terminal(System.out, System.err, Boolean.getBoolean("stratus.stderr.tty"));
    System.exit(run(args, terminal, null, null));
  }

  /**
   * Runs one command line and returns its exit code; never calls {@code System.exit}.
   *
   * @param conductor channel to the conductor, or null to open one from {@code
   *     --conductor}/CONDUCTOR_ADDR; a given channel is left open
   * @param gateway channel to the image-gateway, or null to open one from {@code
   *     --gateway}/GATEWAY_ADDR; a given channel is left open
   */
  public static int run(String[] args, PrintStream out, PrintStream err,
      ManagedChannel conductor, ManagedChannel gateway) {
    return run(args, new Terminal(out, err, false), conductor, gateway);
  }

  /** As {@link #run(String[], PrintStream, PrintStream, ManagedChannel, ManagedChannel)}. */
  public static int run(String[] args, Terminal terminal, ManagedChannel conductor,
      ManagedChannel gateway) {
    StratusCli root = new StratusCli(terminal, conductor, gateway);
    CommandLine cli = new CommandLine(root)
        .setOut(new PrintWriter(terminal.out(), true))
        .setErr(new PrintWriter(terminal.err(), true))
        .setCaseInsensitiveEnumValuesAllowed(true)
        .setParameterExceptionHandler(StratusCli::usageError)
        .setExecutionExceptionHandler((e, cmd, parsed) -> failure(e, terminal.err()));
    try {
      return cli.execute(args);
    } finally {
      if (root.session != null) {
        root.session.clients().close();
      }
      terminal.out().flush();
      terminal.err().flush();
    }
  }

  /** This invocation's session; its channels open on first use. */
  Session session() {
    if (session == null) {
      session = new Session(terminal,
          new Clients(conductorAddress, gatewayAddress, token,
              new ClientTls(caCert, clientCert, clientKey, insecure), conductor, gateway));
    }
    return session;
  }

  private static int usageError(ParameterException e, String[] args) {
    String command = e.getCommandLine().getCommandSpec().qualifiedName();
    e.getCommandLine().getErr().println(
        "error: " + oneLine(e.getMessage()) + " (see '" + command + " --help')");
    return CliException.USAGE;
  }

  private static int failure(Exception e, PrintStream err) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof CliException c) {
        err.println("error: " + oneLine(c.getMessage()));
        return c.exitCode();
      }
      if (t instanceof StatusRuntimeException s) {
        err.println("error: " + ApiErrors.describe(s.getStatus()));
        return CliException.FAILED;
      }
    }
    String message = e.getMessage() == null ? "" : ": " + e.getMessage();
    err.println("error: " + oneLine(e.getClass().getSimpleName() + message));
    return CliException.FAILED;
  }

  static String oneLine(String s) {
    return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", " ");
  }

  /** The version from the jar's manifest. */
  static final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = StratusCli.class.getPackage().getImplementationVersion();
      return new String[] {"stratus " + (v == null ? "(development build)" : v)};
    }
  }
}
