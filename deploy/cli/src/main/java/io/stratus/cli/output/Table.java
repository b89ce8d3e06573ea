package io.stratus.cli.output;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Aligned text columns: a header row, then one row per item, two spaces between columns,
 * no trailing blanks. Cells are single lines (line breaks become spaces).
 */
public final class Table {
  private final List<String> headers;
  private final List<List<String>> rows = new ArrayList<>();

  private Table(List<String> headers) {
    this.headers = headers;
  }

  public static Table columns(String... headers) {
    return new Table(List.of(headers));
  }

  /** A two-column {@code Field Value} table, for one item. */
  public static Table fields() {
    return columns("Field", "Value");
  }

  /** Adds a row; null cells print empty. */
  public Table row(Object... cells) {
    if (cells.length != headers.size()) {
      throw new IllegalArgumentException(
          "row has " + cells.length + " cells, table has " + headers.size() + " columns");
    }
    rows.add(Arrays.stream(cells)
        .map(c -> c == null ? "" : c.toString().replaceAll("\\R", " "))
        .toList());
    return this;
  }

  public void print(PrintStream out) {
    int[] widths = new int[headers.size()];
    for (int c = 0; c < widths.length; c++) {
      widths[c] = headers.get(c).length();
      for (List<String> row : rows) {
        widths[c] = Math.max(widths[c], row.get(c).length());
      }
    }
    printRow(out, headers, widths);
    for (List<String> row : rows) {
      printRow(out, row, widths);
    }
  }

  private static void printRow(PrintStream out, List<String> cells, int[] widths) {
    StringBuilder line = new StringBuilder();
    for (int c = 0; c < cells.size(); c++) {
      if (c > 0) {
        line.append("  ");
      }
      line.append(cells.get(c));
      if (c + 1 < cells.size()) {
        line.append(" ".repeat(widths[c] - cells.get(c).length()));
      }
    }
    out.println(line.toString().stripTrailing());
  }
}
