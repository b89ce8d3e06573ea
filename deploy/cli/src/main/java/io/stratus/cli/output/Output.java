package io.stratus.cli.output;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.function.Function;

/**
 * Prints a verb's result to stdout: a {@link Table}, or with {@code -f json} one JSON
 * document of the API messages (proto field names, default values included, map keys
 * sorted, so the shape does not depend on the values). A list is a JSON array.
 */
public final class Output {
  private static final JsonFormat.Printer JSON = JsonFormat.printer()
      .preservingProtoFieldNames()
      .includingDefaultValueFields()
      .sortingMapKeys();

  private final PrintStream out;
  private final boolean json;

  public Output(PrintStream out, OutputFormat format) {
    this.out = out;
    this.json = format.json();
  }

  /** Prints one message as JSON, or {@code table} applied to it. */
  public <M extends MessageOrBuilder> void print(M message, Function<M, Table> table) {
    if (json) {
      out.println(json(message));
    } else {
      table.apply(message).print(out);
    }
  }

  /** Prints messages as a JSON array, or {@code table} applied to the list. */
  public <M extends MessageOrBuilder> void printList(List<M> messages,
      Function<List<M>, Table> table) {
    if (!json) {
      table.apply(messages).print(out);
      return;
    }
    if (messages.isEmpty()) {
      out.println("[]");
      return;
    }
    StringBuilder array = new StringBuilder("[\n");
    for (int i = 0; i < messages.size(); i++) {
      array.append("  ").append(json(messages.get(i)).replace("\n", "\n  "));
      array.append(i + 1 < messages.size() ? ",\n" : "\n");
    }
    out.println(array.append(']'));
  }

  /** Prints nothing as a table, {@code {}} as JSON: for verbs whose reply is empty. */
  public void printEmpty() {
    if (json) {
      out.println("{}");
    }
  }

  static String json(MessageOrBuilder message) {
    try {
      return JSON.print(message);
    } catch (InvalidProtocolBufferException e) {
      throw new UncheckedIOException(e); // only for Any with unknown types; we have none
    }
  }
}
